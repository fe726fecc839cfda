package sentinel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func BenchmarkAppendActivityRow(b *testing.B) {
	sample := readSample(b)
	for _, bc := range []struct {
		name string
		raw  []byte
	}{
		{"sample_1", sample},
		{"200KB_trimmed", oversized(b, sample, 125_000, 75_000)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rb := activityBuilder(b)
			var row []byte
			b.SetBytes(int64(len(bc.raw)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				row, _, err = rb.AppendActivityRow(row[:0], bc.raw)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/compact", func(b *testing.B) {
			rb := activityBuilder(b)
			var rec bytes.Buffer
			if err := json.Compact(&rec, bc.raw); err != nil {
				b.Fatal(err)
			}
			var row []byte
			b.SetBytes(int64(rec.Len()))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				row, _, err = rb.AppendCompactActivityRow(row[:0], rec.Bytes())
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBatchGzip(b *testing.B) {
	// A full batch of sample_1 rows with distinct ids and times.
	rb := activityBuilder(b)
	sample := string(readSample(b))
	batch := NewBatch()
	for i := 0; ; i++ {
		raw := strings.Replace(sample, "97ee2049-893e-4c9d-a312-08d82b46faf7", fmt.Sprintf("%036d", i), 1)
		raw = strings.Replace(raw, "1595096586840", fmt.Sprint(1595096586840+int64(i)), 1)
		row, _, err := rb.AppendActivityRow(nil, []byte(raw))
		if err != nil {
			b.Fatal(err)
		}
		if ok, err := batch.Append(row); err != nil {
			b.Fatal(err)
		} else if !ok {
			break
		}
	}
	rows := batch.rows(0, batch.Len())
	b.SetBytes(int64(batch.Size()))
	b.ReportAllocs()
	var (
		u      Uploader
		zipped int
	)
	for b.Loop() {
		body, err := u.gzipArray(rows)
		if err != nil {
			b.Fatal(err)
		}
		zipped = len(body)
	}
	b.ReportMetric(float64(batch.Len()), "rows/batch")
	b.ReportMetric(float64(zipped), "gzipped-bytes/batch")
}
