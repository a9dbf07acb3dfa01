package attention

import "github.com/kiln-llm/kiln/tensor"

func scoresF32Go(out []float32, stride int, q []float32, nh int, k []float32, n, d int) {
	for j := 0; j < n; j++ {
		kr := k[j*d : (j+1)*d]
		for h := 0; h < nh; h++ {
			out[h*stride+j] = dot(q[h*d:(h+1)*d], kr)
		}
	}
}

func scoresF16Go(out []float32, stride int, q []float32, nh int, k []uint16, n, d int, tmp []float32) {
	for j := 0; j < n; j++ {
		widen(tmp, k[j*d:(j+1)*d])
		for h := 0; h < nh; h++ {
			out[h*stride+j] = dot(q[h*d:(h+1)*d], tmp)
		}
	}
}

func accumF32Go(out, w []float32, stride, nh int, v []float32, n, d int) {
	for j := 0; j < n; j++ {
		vr := v[j*d : (j+1)*d]
		for h := 0; h < nh; h++ {
			axpy(out[h*d:(h+1)*d], w[h*stride+j], vr)
		}
	}
}

func accumF16Go(out, w []float32, stride, nh int, v []uint16, n, d int, tmp []float32) {
	for j := 0; j < n; j++ {
		widen(tmp, v[j*d:(j+1)*d])
		for h := 0; h < nh; h++ {
			axpy(out[h*d:(h+1)*d], w[h*stride+j], tmp)
		}
	}
}

func dequantQ8Go(x []float32, q []int8, s []uint16, qb int) {
	for b, sc := range s {
		d := tensor.F16ToF32(sc)
		xb, qq := x[b*qb:(b+1)*qb], q[b*qb:(b+1)*qb]
		for i, v := range qq {
			xb[i] = float32(v) * d
		}
	}
}

// dot uses four partial sums: it breaks the add dependency chain and keeps
// the rounding closer to the eight-lane assembly than one running sum.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpy(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

func widen(dst []float32, h []uint16) {
	dst = dst[:len(h)]
	for i, v := range h {
		dst[i] = tensor.F16ToF32(v)
	}
}
