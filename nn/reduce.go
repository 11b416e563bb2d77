package nn

import "github.com/minrl/minrl/internal/par"

// colSumJob adds the column sums of a rows×cols matrix to dst, accumulating
// in float64 in row order: bias gradients sum over B·T rows, where a float32
// running sum would lose digits. Columns are split across goroutines and
// every column is summed by one goroutine in one order, so the result is
// independent of GOMAXPROCS.
type colSumJob struct {
	dst, src   []float32
	rows, cols int
	kernel     par.Func
}

const colSumBlock = 16 // one cache line of float32 per row

var colSumJobs = par.FreeList[colSumJob]{New: func() *colSumJob {
	j := new(colSumJob)
	j.kernel = j.run
	return j
}}

// AddColSums sets dst[c] += Σ_r src[r*cols+c].
func AddColSums(dst, src []float32, rows, cols int) {
	if len(dst) != cols || len(src) != rows*cols {
		panic("nn: AddColSums: sizes do not match")
	}
	j := colSumJobs.Get()
	j.dst, j.src, j.rows, j.cols = dst, src, rows, cols
	blocks := (cols + colSumBlock - 1) / colSumBlock
	par.For(blocks, par.Grain(blocks, max(1, 4096/max(rows, 1))), j.kernel)
	j.dst, j.src = nil, nil
	colSumJobs.Put(j)
}

func (j *colSumJob) run(lo, hi int) {
	for blk := lo; blk < hi; blk++ {
		c0 := blk * colSumBlock
		c1 := min(c0+colSumBlock, j.cols)
		var acc [colSumBlock]float64
		w := c1 - c0
		for r := 0; r < j.rows; r++ {
			row := j.src[r*j.cols+c0 : r*j.cols+c1]
			for k := 0; k < w; k++ {
				acc[k] += float64(row[k])
			}
		}
		for k := 0; k < w; k++ {
			j.dst[c0+k] += float32(acc[k])
		}
	}
}
