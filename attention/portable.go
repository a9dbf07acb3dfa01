package attention

import "github.com/kiln-llm/kiln/tensor"

// scoresF32Go takes the heads two at a time so that each key element loaded
// serves two products, as the assembly's register tiles do.
func scoresF32Go(out []float32, stride int, q []float32, nh int, k []float32, n, d int) {
	h := 0
	for ; h+2 <= nh; h += 2 {
		q0, q1 := q[h*d:(h+1)*d], q[(h+1)*d:(h+2)*d]
		o0, o1 := out[h*stride:h*stride+n], out[(h+1)*stride:(h+1)*stride+n]
		for j := range o0 {
			o0[j], o1[j] = dot2(q0, q1, k[j*d:(j+1)*d])
		}
	}
	for ; h < nh; h++ {
		qh, oh := q[h*d:(h+1)*d], out[h*stride:h*stride+n]
		for j := range oh {
			oh[j] = dot(qh, k[j*d:(j+1)*d])
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

// accumF32Go, like scoresF32Go, serves two heads per value element loaded.
func accumF32Go(out, w []float32, stride, nh int, v []float32, n, d int) {
	h := 0
	for ; h+2 <= nh; h += 2 {
		o0, o1 := out[h*d:(h+1)*d], out[(h+1)*d:(h+2)*d]
		for j := 0; j < n; j++ {
			axpy2(o0, o1, w[h*stride+j], w[(h+1)*stride+j], v[j*d:(j+1)*d])
		}
	}
	for ; h < nh; h++ {
		oh := out[h*d : (h+1)*d]
		for j := 0; j < n; j++ {
			axpy(oh, w[h*stride+j], v[j*d:(j+1)*d])
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

// dot2 is dot of a and of b with the same x, summed the same way.
func dot2(a, b, x []float32) (float32, float32) {
	b, x = b[:len(a)], x[:len(a)]
	var s0, s1, s2, s3, t0, t1, t2, t3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x0, x1, x2, x3 := x[i], x[i+1], x[i+2], x[i+3]
		s0 += a[i] * x0
		s1 += a[i+1] * x1
		s2 += a[i+2] * x2
		s3 += a[i+3] * x3
		t0 += b[i] * x0
		t1 += b[i+1] * x1
		t2 += b[i+2] * x2
		t3 += b[i+3] * x3
	}
	for ; i < len(a); i++ {
		s0 += a[i] * x[i]
		t0 += b[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3), (t0 + t1) + (t2 + t3)
}

func axpy2(y0, y1 []float32, a0, a1 float32, x []float32) {
	y1, x = y1[:len(y0)], x[:len(y0)]
	for i, v := range x {
		y0[i] += a0 * v
		y1[i] += a1 * v
	}
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
