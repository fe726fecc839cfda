package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
)

// sender batches rows and uploads them. P is what the checkpoint needs to
// know about a row's position (a cursor in list mode, an index into the page
// in scan mode): after each upload, save gets the position of the last row
// the service accepted, all of the batch or, when a split upload failed part
// way, the rows before the failure. The checkpoint never moves past a row
// that was not accepted.
type sender[P any] struct {
	ctx    context.Context // never expires on its own: an upload is awaited to its answer
	up     Uploader
	stream string
	res    *Result
	save   func(P) error

	batch *sentinel.Batch
	pos   []P
}

func newSender[P any](ctx context.Context, up Uploader, stream string, res *Result, save func(P) error) *sender[P] {
	return &sender[P]{ctx: ctx, up: up, stream: stream, res: res, save: save, batch: sentinel.NewBatch()}
}

// add appends a row, flushing first when the batch is full.
func (s *sender[P]) add(id string, row []byte, p P) error {
	ok, err := s.batch.Append(row)
	if err == nil && !ok {
		if err := s.flush(); err != nil {
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

// flush uploads the batch and saves the position of the accepted rows.
func (s *sender[P]) flush() error {
	n := s.batch.Len()
	if n == 0 {
		return nil
	}
	st, upErr := s.up.Upload(s.ctx, s.stream, s.batch)
	if st.Rows > 0 {
		s.res.Forwarded += st.Rows
		s.res.Uploads += st.Requests
		if err := s.save(s.pos[st.Rows-1]); err != nil {
			return &Error{Class: classifySave(err), Err: fmt.Errorf("save the checkpoint after an accepted upload of %d rows: %w", st.Rows, errors.Join(err, upErr))}
		}
	}
	if upErr != nil {
		return &Error{Class: classifyUpload(upErr), Err: fmt.Errorf("upload %d rows to %s (%d accepted): %w", n, s.stream, st.Rows, upErr)}
	}
	s.batch.Reset()
	s.pos = s.pos[:0]
	return nil
}
