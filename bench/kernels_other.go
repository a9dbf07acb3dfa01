//go:build !amd64 || purego

package bench

func scan(b []byte) uint64 { return scanGeneric(b) }

func fmaChunk(n int) (float64, float32) { return fmaGeneric(n) }

func int8Chunk(n int) (float64, float32) { return int8Generic(n) }

func hasWideFMA() bool { return false }

const hasVNNI = false

func vnniChunk(n int) (float64, float32) { return int8Generic(n) }
