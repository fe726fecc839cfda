package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
)

// sender batches rows and uploads them. P is what the checkpoint needs to
// know about a row's position (a cursor in list mode, a page and an index
// into it in scan mode): after each upload, save gets the position of the
// last row the service accepted, all of the batch or, when a split upload
// failed part way, the rows before the failure. The checkpoint never moves
// past a row that was not accepted.
//
// A full batch is uploaded in the background while the caller goes on
// reading the next page: at most one upload is in flight, saves happen in
// upload order, and once an upload has failed no other one starts.
//
// Once told to stop (its budget ran out, or earlier, see stopSignal) a run
// finishes one upload at most (promise 4): the one in flight, or, when none
// ran past the stop, the batch in hand, so that even a budget too short to
// fill a batch moves the checkpoint on. Rows batched but not sent then are
// read again by the next run, from the checkpoint the last accepted upload
// saved.
type sender[P any] struct {
	ctx     context.Context // never expires on its own: an upload is awaited to its answer
	stop    *stopSignal
	lastEnd time.Time // when the last upload ended
	up      Uploader
	stream  string
	res     *Result
	save    func(P) error

	batch *sentinel.Batch
	pos   []P

	// The batch in flight and the channel its outcome arrives on (nil when none).
	spare    *sentinel.Batch
	sparePos []P
	inflight chan error
}

func newSender[P any](ctx context.Context, stop *stopSignal, up Uploader, stream string, res *Result, save func(P) error) *sender[P] {
	return &sender[P]{ctx: ctx, stop: stop, up: up, stream: stream, res: res, save: save, batch: sentinel.NewBatch(), spare: sentinel.NewBatch()}
}

// errStopped is add's and flush's answer when an upload already ran past
// the run's stop. The batch is left unsent; the caller stops, and the
// next run resumes from the last accepted row.
var errStopped = errors.New("the run was told to stop before the batch was sent")

// ranPastStop reports whether an upload already ran past the run's stop, so
// no other may start. Only call it after wait.
func (s *sender[P]) ranPastStop() bool { return s.lastEnd.After(s.stop.at()) }

// add appends a row; when the batch is full it is handed to the background
// upload and the row starts the next one. When that cannot start (see
// ranPastStop), it returns errStopped and the row is not added.
func (s *sender[P]) add(id string, row []byte, p P) error {
	ok, err := s.batch.Append(row)
	if err == nil && !ok {
		if err := s.start(); err != nil {
			return err
		}
		ok, err = s.batch.Append(row)
	}
	if err != nil || !ok {
		return &Error{Class: ClassInternal, Err: fmt.Errorf("activity %s: its row of %d bytes does not fit in a batch: %w", id, len(row), err)}
	}
	s.pos = append(s.pos, p)
	return nil
}

// start waits for the upload in flight, then uploads the current batch in
// the background.
func (s *sender[P]) start() error {
	if err := s.wait(); err != nil {
		return err
	}
	if s.batch.Len() == 0 {
		return nil
	}
	if s.ranPastStop() {
		return errStopped
	}
	s.batch, s.spare = s.spare, s.batch
	s.pos, s.sparePos = s.sparePos[:0], s.pos
	done := make(chan error, 1)
	s.inflight = done
	b, pos := s.spare, s.sparePos
	go func() { done <- s.upload(b, pos) }()
	return nil
}

// wait returns the outcome of the upload in flight, if any.
func (s *sender[P]) wait() error {
	if s.inflight == nil {
		return nil
	}
	err := <-s.inflight
	s.inflight = nil
	return err
}

// flush uploads everything not yet uploaded and waits for it. With rows
// left when an upload already ran past the run's stop, it returns
// errStopped.
func (s *sender[P]) flush() error {
	if err := s.wait(); err != nil {
		return err
	}
	if s.batch.Len() > 0 && s.ranPastStop() {
		return errStopped
	}
	err := s.upload(s.batch, s.pos)
	if err == nil {
		s.batch.Reset()
		s.pos = s.pos[:0]
	}
	return err
}

// upload sends b and saves the position of its accepted rows.
func (s *sender[P]) upload(b *sentinel.Batch, pos []P) error {
	n := b.Len()
	if n == 0 {
		return nil
	}
	st, upErr := s.up.Upload(s.ctx, s.stream, b)
	s.lastEnd = time.Now() // read only after wait: the channel orders it
	if st.Rows > 0 {
		s.res.Forwarded += st.Rows
		s.res.Uploads += st.Requests
		if err := s.saveAccepted(pos[st.Rows-1]); err != nil {
			return &Error{Class: classifySave(err), Err: fmt.Errorf("save the checkpoint after an accepted upload of %d rows: %w", st.Rows, errors.Join(err, upErr))}
		}
	}
	if upErr != nil {
		return &Error{Class: classifyUpload(upErr), Err: fmt.Errorf("upload %d rows to %s (%d accepted): %w", n, s.stream, st.Rows, upErr)}
	}
	b.Reset()
	return nil
}

// saveRetryFor is how long the save of an accepted upload's position is
// tried again after it failed (the Table client's own retries spent),
// unless the lease is lost or the save was refused for what it holds.
// Given up on, it leaves rows in Sentinel that the next run sends again,
// which promise 2 allows only for a process killed in between; and a save
// that failed may simply be repeated (see checkpoint.Lease.Save).
const saveRetryFor = 30 * time.Second

// saveAccepted saves p, the position of an accepted upload's last row,
// trying again for saveRetryFor.
func (s *sender[P]) saveAccepted(p P) error {
	wait, giveUp := time.Second, time.Now().Add(saveRetryFor)
	for {
		err := s.save(p)
		if err == nil || errors.Is(err, checkpoint.ErrLeaseLost) || errors.Is(err, checkpoint.ErrRefused) || time.Now().Add(wait).After(giveUp) {
			return err
		}
		time.Sleep(wait)
		wait = min(2*wait, 8*time.Second)
	}
}
