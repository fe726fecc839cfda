package sentinel

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rowOfSize returns a JSON object of exactly n bytes (n >= 10), tagged i.
func rowOfSize(t testing.TB, i, n int) []byte {
	t.Helper()
	head := fmt.Sprintf(`{"i":%d,"p":"`, i)
	pad := n - len(head) - 2
	if pad < 0 {
		t.Fatalf("row %d cannot be %d bytes", i, n)
	}
	return []byte(head + strings.Repeat("x", pad) + `"}`)
}

// arrayOf returns the rows as a JSON array, as a batch should hold them.
func arrayOf(rows ...[]byte) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = string(r)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestBatchExactlyOneMiB(t *testing.T) {
	b := NewBatch()
	if c := cap(b.buf); c != MaxBatchBytes {
		t.Fatalf("buffer capacity %d, want %d allocated up front", c, MaxBatchBytes)
	}
	// "[" + r0 + "," + r1 + "]" is exactly MaxBatchBytes.
	r0 := rowOfSize(t, 0, MaxBatchBytes/2)
	r1 := rowOfSize(t, 1, MaxBatchBytes-3-len(r0))
	for i, r := range [][]byte{r0, r1} {
		if ok, err := b.Append(r); !ok || err != nil {
			t.Fatalf("Append(row %d) = %t, %v", i, ok, err)
		}
	}
	if b.Size() != MaxBatchBytes || len(b.Bytes()) != MaxBatchBytes {
		t.Errorf("Size %d, len(Bytes) %d, want both %d", b.Size(), len(b.Bytes()), MaxBatchBytes)
	}
	if got, want := string(b.Bytes()), arrayOf(r0, r1); got != want {
		t.Errorf("Bytes is not the array of the rows")
	}
	// Not one more byte: the smallest row is refused and the batch unchanged.
	if ok, err := b.Append([]byte(`{}`)); ok || err != nil {
		t.Errorf("Append to a full batch = %t, %v; want false, nil", ok, err)
	}
	if b.Len() != 2 || b.Size() != MaxBatchBytes {
		t.Errorf("refused Append changed the batch: Len %d Size %d", b.Len(), b.Size())
	}

	// Three bytes less in the second row leave room for exactly "," + "{}".
	b.Reset()
	r1 = rowOfSize(t, 1, MaxBatchBytes-3-len(r0)-3)
	for _, r := range [][]byte{r0, r1} {
		if ok, err := b.Append(r); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if ok, _ := b.Append([]byte(`{}`)); !ok {
		t.Errorf("a 2-byte row did not fit in the last 3 bytes")
	}
	if b.Size() != MaxBatchBytes {
		t.Errorf("Size = %d, want %d", b.Size(), MaxBatchBytes)
	}
}

func TestBatchSingleRowLimits(t *testing.T) {
	b := NewBatch()
	if ok, err := b.Append(rowOfSize(t, 0, MaxBatchBytes-2)); !ok || err != nil {
		t.Fatalf("row of MaxBatchBytes-2 = %t, %v; want it to fit alone", ok, err)
	}
	if !json.Valid(b.Bytes()) || b.Size() != MaxBatchBytes {
		t.Errorf("batch of one maximal row: valid %t, size %d", json.Valid(b.Bytes()), b.Size())
	}
	b.Reset()
	_, err := b.Append(rowOfSize(t, 0, MaxBatchBytes-1))
	if !errors.Is(err, ErrRowTooLarge) {
		t.Errorf("row of MaxBatchBytes-1: error %v, want ErrRowTooLarge", err)
	}
	if _, err := b.Append(nil); err == nil {
		t.Error("empty row: no error")
	}
	if b.Len() != 0 || string(b.Bytes()) != "[]" {
		t.Errorf("refused rows changed the batch: %q", b.Bytes())
	}
}

func TestBatchReuseKeepsBuffer(t *testing.T) {
	b := NewBatch()
	first := &b.buf[:1][0]
	for round := range 3 {
		var rows [][]byte
		for i := 0; ; i++ {
			r := rowOfSize(t, i, 1000+round)
			ok, err := b.Append(r)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			rows = append(rows, r)
		}
		if got := string(b.Bytes()); got != arrayOf(rows...) {
			t.Fatalf("round %d: Bytes is not the array of the %d rows", round, len(rows))
		}
		for i, r := range rows {
			if string(b.Row(i)) != string(r) {
				t.Fatalf("round %d: Row(%d) differs", round, i)
			}
		}
		if &b.buf[:1][0] != first {
			t.Fatalf("round %d: buffer reallocated", round)
		}
		b.Reset()
	}
	if got := string(b.Bytes()); got != "[]" {
		t.Errorf("empty batch = %q, want []", got)
	}
}

func TestBatchHalves(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 8} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			b := NewBatch()
			var rows [][]byte
			for i := range n {
				r := rowOfSize(t, i, 20+i)
				rows = append(rows, r)
				if ok, err := b.Append(r); !ok || err != nil {
					t.Fatal(ok, err)
				}
			}
			if got := "[" + string(b.rows(0, n)) + "]"; got != arrayOf(rows...) {
				t.Errorf("rows(0, %d) = %s", n, got)
			}
			mid := n / 2
			if mid == 0 {
				return
			}
			got := []string{"[" + string(b.rows(0, mid)) + "]", "[" + string(b.rows(mid, n)) + "]"}
			want := []string{arrayOf(rows[:mid]...), arrayOf(rows[mid:]...)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("halves (-want +got):\n%s", diff)
			}
		})
	}
}
