package sentinel

import (
	"errors"
	"fmt"
)

// MaxBatchBytes is the most one upload carries, uncompressed: the SPEC's
// 1 MiB per Logs Ingestion API call.
const MaxBatchBytes = 1 << 20

// ErrRowTooLarge is returned by Batch.Append for a row that cannot fit in
// any batch.
var ErrRowTooLarge = errors.New("row larger than a batch can hold")

// Batch accumulates rows into one JSON array of at most MaxBatchBytes. It
// keeps the row boundaries so an upload the service refuses as too large can
// be split. Its buffer is allocated once and reused after Reset. A Batch is
// not safe for concurrent use.
type Batch struct {
	buf  []byte // "[" and the rows separated by ","; Bytes adds the "]"
	ends []int  // ends[i] is the offset in buf just past row i
	max  int
}

// NewBatch returns an empty batch with its full buffer allocated.
func NewBatch() *Batch { return newBatch(MaxBatchBytes) }

func newBatch(max int) *Batch {
	b := &Batch{buf: make([]byte, 1, max), ends: make([]int, 0, 512), max: max}
	b.buf[0] = '['
	return b
}

// Append adds row, one JSON object, to the batch. It returns false, and
// leaves the batch as it was, when the row would take the batch over its
// limit: upload the batch, Reset it and append again. A row too large for
// even an empty batch is an ErrRowTooLarge error.
func (b *Batch) Append(row []byte) (bool, error) {
	switch {
	case len(row) == 0:
		return false, errors.New("append to batch: empty row")
	case len(row)+2 > b.max:
		return false, fmt.Errorf("append to batch: %w: %d bytes, at most %d fit", ErrRowTooLarge, len(row), b.max-2)
	}
	need := len(row) + 1 // the closing bracket
	if len(b.ends) > 0 {
		need++ // the comma
	}
	if len(b.buf)+need > b.max {
		return false, nil
	}
	if len(b.ends) > 0 {
		b.buf = append(b.buf, ',')
	}
	b.buf = append(b.buf, row...)
	b.ends = append(b.ends, len(b.buf))
	return true, nil
}

// Len returns the number of rows in the batch.
func (b *Batch) Len() int { return len(b.ends) }

// Size returns the size in bytes of the batch's JSON array.
func (b *Batch) Size() int { return len(b.buf) + 1 }

// Bytes returns the batch as a JSON array. The slice shares the batch's
// buffer: it is valid until the next Append or Reset.
func (b *Batch) Bytes() []byte {
	// The buffer's capacity always leaves room for the bracket, so this
	// append never copies.
	return append(b.buf, ']')
}

// Row returns row i as appended; it shares the batch's buffer.
func (b *Batch) Row(i int) []byte { return b.buf[b.start(i):b.ends[i]] }

// Reset empties the batch, keeping its buffer.
func (b *Batch) Reset() {
	b.buf = b.buf[:1]
	b.ends = b.ends[:0]
}

// start returns the offset of row i in buf.
func (b *Batch) start(i int) int {
	if i == 0 {
		return 1
	}
	return b.ends[i-1] + 1
}

// rows returns rows lo..hi-1 (hi > lo) joined by commas: the inside of the
// JSON array holding just those rows.
func (b *Batch) rows(lo, hi int) []byte { return b.buf[b.start(lo):b.ends[hi-1]] }
