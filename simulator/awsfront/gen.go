package awsfront

//go:generate go run ./internal/genwire
