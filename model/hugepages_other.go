//go:build !linux

package model

// hugeSlice makes a slice of n elements (huge pages are advised on Linux
// only).
func hugeSlice[T any](n int) []T { return make([]T, n) }
