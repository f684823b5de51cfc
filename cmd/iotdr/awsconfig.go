package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// loadAWS loads the AWS configuration for region from the default chain (the shared
// config profile when profile is set), with opts applied after. With check set it
// also retrieves the credentials: LoadDefaultConfig succeeds without any, and a long
// run should fail now, not on its first call.
func loadAWS(ctx context.Context, region, profile string, check bool, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	all := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if profile != "" {
		all = append(all, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(all, opts...)...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if check {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if _, err := cfg.Credentials.Retrieve(cctx); err != nil {
			return aws.Config{}, fmt.Errorf("no usable AWS credentials (environment, shared config/--profile, SSO or instance role): %w", err)
		}
	}
	return cfg, nil
}
