// Package baseline is the yardstick the bench holds the handler's CPU and
// memory against: the work no connector can avoid for a stream of Activities
// API pages (decode each page, build the Sentinel rows, pack them into 1 MiB
// batches, gzip each batch) and nothing else: no HTTP, no TLS, no checkpoint.
// cmd/bench/baseline runs it on the pages piped to its standard input. The
// package imports none of the bench's stack (no simulated tenant, no
// stand-ins), only internal/mcas/envelope, internal/sentinel and schema as
// the handler does, so the program's size and start-up do not burden the
// comparison.
package baseline

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas/envelope"
	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// MaxFrame bounds one page on the pipe: a 100-activity page is a few
// hundred KB, and the handler refuses pages over 128 MiB.
const MaxFrame = 128 << 20

// WriteFrame writes one page as Run reads it: its length (4 bytes, big
// endian), then the page.
func WriteFrame(w io.Writer, page []byte) error {
	if len(page) > MaxFrame {
		return fmt.Errorf("frame of %d bytes is over %d", len(page), MaxFrame)
	}
	var header [4]byte
	binary.BigEndian.PutUint32(header[:], uint32(len(page)))
	if _, err := w.Write(header[:]); err != nil {
		return err
	}
	_, err := w.Write(page)
	return err
}

// Result is what Run did.
type Result struct {
	Pages      int   `json:"pages"`
	Activities int   `json:"activities"`
	Batches    int   `json:"batches"`
	RowBytes   int64 `json:"rowBytes"`
	GzipBytes  int64 `json:"gzipBytes"`
	// PeakRSS is the process's VmHWM in bytes when Run returned (0 when
	// unknown). The parent cannot use ru_maxrss for it: a child started
	// with vfork inherits the parent's peak in that field.
	PeakRSS int64 `json:"peakRSS"`
}

// Run does the work no connector can avoid, for every framed page read
// from r (see WriteFrame) until EOF: decode the list envelope with
// envelope.Decode as internal/mcas does, build each activity's row with
// sentinel.ActivityRowBuilder (its compact path when the page allows, as
// the pipeline does), pack the rows into sentinel.Batch (1 MiB) and
// gzip every full batch as sentinel.Uploader does, without sending it.
func Run(r io.Reader) (Result, error) {
	var res Result
	rows, err := sentinel.NewActivityRowBuilder(schema.Activity())
	if err != nil {
		return res, err
	}
	batch := sentinel.NewBatch()
	zw := gzip.NewWriter(nil)
	flush := func() error {
		if batch.Len() == 0 {
			return nil
		}
		n, err := gzipBatch(zw, batch.Bytes())
		if err != nil {
			return err
		}
		res.Batches++
		res.RowBytes += int64(batch.Size())
		res.GzipBytes += int64(n)
		batch.Reset()
		return nil
	}
	var (
		frame  []byte
		row    []byte
		header [4]byte
	)
	for {
		if _, err := io.ReadFull(r, header[:]); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return res, fmt.Errorf("read page %d: %w", res.Pages, err)
		}
		n := binary.BigEndian.Uint32(header[:])
		if n > MaxFrame {
			return res, fmt.Errorf("page %d: frame of %d bytes is over %d", res.Pages, n, MaxFrame)
		}
		if cap(frame) < int(n) {
			frame = make([]byte, n)
		}
		frame = frame[:n]
		if _, err := io.ReadFull(r, frame); err != nil {
			return res, fmt.Errorf("read page %d: %w", res.Pages, err)
		}
		page, err := envelope.Decode(frame)
		if err != nil {
			return res, fmt.Errorf("page %d: %w", res.Pages, err)
		}
		res.Pages++
		for _, raw := range page.Data {
			if page.Compact {
				row, _, err = rows.AppendCompactActivityRow(row[:0], raw)
			} else {
				row, _, err = rows.AppendActivityRow(row[:0], raw)
			}
			if err != nil {
				return res, fmt.Errorf("page %d: %w", res.Pages-1, err)
			}
			ok, err := batch.Append(row)
			if err == nil && !ok {
				if err := flush(); err != nil {
					return res, err
				}
				ok, err = batch.Append(row)
			}
			if err != nil || !ok {
				return res, fmt.Errorf("page %d: a row of %d bytes does not fit a batch: %w", res.Pages-1, len(row), err)
			}
			res.Activities++
		}
	}
	err = flush()
	res.PeakRSS = peakRSS()
	return res, err
}

// peakRSS reads this process's VmHWM from /proc/self/status, in bytes.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// gzipBatch compresses body as sentinel.Uploader does: the default level,
// a reused writer, a new output buffer each time. It returns the gzipped size.
func gzipBatch(zw *gzip.Writer, body []byte) (int, error) {
	out := bytes.NewBuffer(make([]byte, 0, len(body)/8+512))
	zw.Reset(out)
	if _, err := zw.Write(body); err != nil {
		return 0, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return 0, fmt.Errorf("gzip: %w", err)
	}
	return out.Len(), nil
}
