package mcasapi

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Generator makes realistic activities, reproducibly for a seed: the same
// seed and the same calls give the same activities. Safe for concurrent use.
type Generator struct {
	mu       sync.Mutex
	rng      *rand.Rand
	ten      *tenant
	base     uint64
	counter  uint64
	maxDelay time.Duration
}

// weighted picks an index with probability proportional to its weight.
type weighted struct {
	idx   []int
	cum   []int
	total int
}

func (p *weighted) add(i, w int) {
	p.total += w
	p.idx = append(p.idx, i)
	p.cum = append(p.cum, p.total)
}

func (p *weighted) pick(r *rand.Rand) int {
	n := r.IntN(p.total)
	for i, c := range p.cum {
		if n < c {
			return p.idx[i]
		}
	}
	return p.idx[len(p.idx)-1]
}

var (
	appPick     weighted
	opPick      = make([]weighted, len(apps))
	adminUsers  []uint8
	anonLocs    []uint8
	knownLocs   []uint8
	catalogOnce sync.Once
)

func initCatalog() {
	for i, a := range apps {
		appPick.add(i, a.weight)
	}
	for i, o := range ops {
		opPick[o.app].add(i, o.weight)
	}
	for i, u := range users {
		if u.admin {
			adminUsers = append(adminUsers, uint8(i))
		}
	}
	for i, l := range locs {
		if l.anonymous {
			anonLocs = append(anonLocs, uint8(i))
		} else {
			knownLocs = append(knownLocs, uint8(i))
		}
	}
}

// NewGenerator returns a generator for the simulated contoso tenant.
func NewGenerator(seed uint64) *Generator {
	catalogOnce.Do(initCatalog)
	return &Generator{
		rng:  rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc908)),
		ten:  defaultTenant,
		base: mix64(seed ^ 0x3c6ef372fe94f82b),
	}
}

// SetVisibilityDelay makes later activities visible in the API a random
// time between 0 and max after their created time (0: at once), as indexing
// lag does.
func (g *Generator) SetVisibilityDelay(max time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.maxDelay = max
}

// Next returns a new activity saved by MDA at created.
func (g *Generator) Next(created time.Time) Activity {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.next(created.UnixMilli(), g.maxDelay)
}

// next draws one activity; g.mu is held.
func (g *Generator) next(created int64, maxDelay time.Duration) Activity {
	r := g.rng
	ai := appPick.pick(r)
	oi := opPick[ai].pick(r)
	op := &ops[oi]
	app := &apps[ai]

	var ui uint8
	if op.admin {
		ui = adminUsers[r.IntN(len(adminUsers))]
	} else {
		ui = uint8(r.IntN(len(users)))
	}
	li := users[ui].home
	switch p := r.Float64(); {
	case op.kind == kFailedLogin && p < 0.3, p < 0.02:
		li = anonLocs[r.IntN(len(anonLocs))]
	case op.kind == kFailedLogin && p < 0.6, p < 0.12:
		li = knownLocs[r.IntN(len(knownLocs))]
	}
	ua := app.uas[r.IntN(len(app.uas))]

	var flags uint8
	impersonation := 0.003
	if ai == aExchange && !op.admin {
		impersonation = 0.03 // delegates reading someone else's mailbox
	}
	if r.Float64() < impersonation {
		flags |= flagImpersonated
	}

	// MDA saves an activity seconds to hours after it happened: mostly
	// minutes, sometimes hours (upstream audit latency, reference §5).
	var skew time.Duration
	switch p := r.Float64(); {
	case p < 0.85:
		skew = logUniform(r, 5*time.Second, 15*time.Minute)
	case p < 0.98:
		skew = logUniform(r, 15*time.Minute, 2*time.Hour)
	default:
		skew = logUniform(r, 2*time.Hour, 6*time.Hour)
	}
	ts := created - skew.Milliseconds()
	if app.fam == famO365 {
		ts -= ((ts % 1000) + 1000) % 1000 // O365 audit times are whole seconds
	}

	visible := time.UnixMilli(created)
	if maxDelay > 0 {
		visible = visible.Add(time.Duration(r.Int64N(int64(maxDelay) + 1)))
	}

	seed := mix64(g.base + g.counter)
	g.counter++
	return Activity{
		ID:        itoa(g.ten.id) + "_" + itoa(int64(app.id)) + "_" + guid(mix64(seed), mix64(seed^0x5bd1e9955bd1e995)),
		Created:   created,
		Timestamp: ts,
		VisibleAt: visible,
		AppID:     app.id,
		ten:       g.ten,
		seed:      seed,
		op:        uint16(oi),
		user:      ui,
		loc:       li,
		ua:        ua,
		flags:     flags,
	}
}

func logUniform(r *rand.Rand, lo, hi time.Duration) time.Duration {
	l, h := math.Log(float64(lo)), math.Log(float64(hi))
	return time.Duration(math.Exp(l + r.Float64()*(h-l)))
}
