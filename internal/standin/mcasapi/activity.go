package mcasapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"
)

// Activity is one activity of the simulated tenant. It is compact (about a
// hundred bytes) so a sim can hold a million: the record the API serves is
// rendered from it on demand, deterministically.
//
// An Activity built by hand (only the exported fields set) is served as a
// generated record of its AppID (one of the catalog's apps: 20893, 20892,
// 15600, 28375, 32780, 10489, 11114, 26061), with its own ID and times.
type Activity struct {
	ID        string    // _id, "<tenantId>_<appId>_<guid>"
	Created   int64     // ms since epoch when MDA saved it: the created filter and sort
	Timestamp int64     // ms since epoch when it happened: the date filter and sort
	VisibleAt time.Time // the API lists it only once the sim clock reaches this; zero: at once
	AppID     int

	ten   *tenant
	seed  uint64 // derives the record's guids, addresses and names
	op    uint16 // index into ops
	user  uint8  // index into users
	loc   uint8  // index into locs
	ua    uint8  // index into uas
	flags uint8
	tie   uint64     // order among equal times, set by the Sim
	raw   *rawRecord // a custom record, served verbatim
}

const flagImpersonated = 1 << 0

// rawRecord is a record added verbatim, with the values the filters need.
type rawRecord struct {
	json                []byte
	user, ip, country   string
	admin, impersonated bool
}

// UserName is the user.userName the record carries.
func (a *Activity) UserName() string {
	if a.raw != nil {
		return a.raw.user
	}
	return users[a.user].upn
}

// IP is the device.clientIP the record carries.
func (a *Activity) IP() string {
	if a.raw != nil {
		return a.raw.ip
	}
	return ip(a.loc, a.seed)
}

// Country is the location.countryCode the record carries.
func (a *Activity) Country() string {
	if a.raw != nil {
		return a.raw.country
	}
	return locs[a.loc].country
}

// Admin reports whether it is an administrative activity (eventRouting.adminEvent).
func (a *Activity) Admin() bool {
	if a.raw != nil {
		return a.raw.admin
	}
	return ops[a.op].admin
}

// Impersonated reports the record's top-level impersonated flag.
func (a *Activity) Impersonated() bool {
	if a.raw != nil {
		return a.raw.impersonated
	}
	return a.flags&flagImpersonated != 0
}

// Date is Timestamp as a time.
func (a *Activity) Date() time.Time { return time.UnixMilli(a.Timestamp).UTC() }

// CreatedTime is Created as a time.
func (a *Activity) CreatedTime() time.Time { return time.UnixMilli(a.Created).UTC() }

// Record renders the activity as the API serves it.
func (a *Activity) Record() []byte {
	var w jw
	a.appendJSON(&w)
	return w.b
}

func (a *Activity) appendJSON(w *jw) {
	if a.raw != nil {
		w.sep()
		w.b = append(w.b, a.raw.json...)
		return
	}
	renderRecord(w, a)
}

func (a *Activity) visible(now time.Time) bool { return !a.VisibleAt.After(now) }

// normalize completes a hand-built activity so it renders as a record of its app.
func (a *Activity) normalize() {
	if a.raw != nil || a.ten != nil {
		return
	}
	a.ten = defaultTenant
	if a.seed == 0 {
		a.seed = hashString(a.ID) | 1
	}
	for i := range ops {
		if apps[ops[i].app].id == a.AppID {
			a.op = uint16(i)
			break
		}
	}
	if a.AppID == 0 {
		a.AppID = apps[ops[a.op].app].id
	}
	a.user = uint8(a.seed % uint64(len(users)))
	a.loc = users[a.user].home
	app := apps[ops[a.op].app]
	a.ua = app.uas[a.seed%uint64(len(app.uas))]
}

// ParseRecord makes an Activity of a complete record given as JSON, served
// verbatim (compacted). The record needs "_id" (a string) and "created" and
// "timestamp" (integers); "appId", user.userName, device.clientIP,
// location.countryCode, eventRouting.adminEvent and impersonated feed the
// filters when present. Keys are matched case-sensitively, so a rawDataJson
// with keys differing only by case ("Level", "level") is kept as it is.
// visibleAt zero means visible from its created time.
func ParseRecord(record []byte, visibleAt time.Time) (Activity, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(record, &top); err != nil {
		return Activity{}, fmt.Errorf("parse record: %w", err)
	}
	if top == nil {
		return Activity{}, errors.New("parse record: not a JSON object")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, record); err != nil {
		return Activity{}, fmt.Errorf("compact record: %w", err)
	}
	a := Activity{raw: &rawRecord{json: compact.Bytes()}}
	if err := json.Unmarshal(top["_id"], &a.ID); err != nil || a.ID == "" {
		return Activity{}, fmt.Errorf("record _id must be a non-empty string: %w", errOr(err))
	}
	var ok bool
	if a.Created, ok = asInt(top["created"]); !ok {
		return Activity{}, fmt.Errorf("record %s: created must be an integer", a.ID)
	}
	if a.Timestamp, ok = asInt(top["timestamp"]); !ok {
		return Activity{}, fmt.Errorf("record %s: timestamp must be an integer", a.ID)
	}
	if v, ok := asInt(top["appId"]); ok {
		a.AppID = int(v)
	}
	a.raw.user, _ = asString(field(top, "user", "userName"))
	a.raw.ip, _ = asString(field(top, "device", "clientIP"))
	a.raw.country, _ = asString(field(top, "location", "countryCode"))
	a.raw.admin, _ = asBool(field(top, "eventRouting", "adminEvent"))
	a.raw.impersonated, _ = asBool(top["impersonated"])
	a.VisibleAt = visibleAt
	return a, nil
}

func errOr(err error) error {
	if err != nil {
		return err
	}
	return errors.New("empty")
}

// field walks nested objects by exact key.
func field(top map[string]json.RawMessage, path ...string) json.RawMessage {
	cur := top
	for i, k := range path {
		v, ok := cur[k]
		if !ok {
			return nil
		}
		if i == len(path)-1 {
			return v
		}
		cur = nil
		if json.Unmarshal(v, &cur) != nil || cur == nil {
			return nil
		}
	}
	return nil
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// mix64 is splitmix64's finaliser: a bijection on uint64 that scrambles well.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// drand is a tiny deterministic stream derived from an activity's seed.
type drand struct{ s uint64 }

func (r *drand) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

func (r *drand) intn(n int) int { return int(r.next() % uint64(n)) }

// guid formats a version-4 style GUID from a and b (the version and variant
// bits replace six of their 128).
func guid(a, b uint64) string {
	a = a&^0xf000 | 0x4000
	b = b&^(0xc<<60) | 0x8<<60
	var buf [36]byte
	const hexdig = "0123456789abcdef"
	put := func(dst []byte, v uint64, n int) {
		for i := n - 1; i >= 0; i-- {
			dst[i] = hexdig[v&0xf]
			v >>= 4
		}
	}
	put(buf[0:8], a>>32, 8)
	buf[8] = '-'
	put(buf[9:13], a>>16, 4)
	buf[13] = '-'
	put(buf[14:18], a, 4)
	buf[18] = '-'
	put(buf[19:23], b>>48, 4)
	buf[23] = '-'
	put(buf[24:36], b, 12)
	return string(buf[:])
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
