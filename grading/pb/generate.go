package pb

// gen.go locates the pinned plugins with "go tool -n", so a clean checkout needs only go and protoc.
//go:generate go run gen.go
