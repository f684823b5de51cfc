// Command infra is iot-dr's Pulumi program: a thin program over the deploy package's
// components. One program serves both stacks: the configuration's role (primary or
// secondary, by default the stack name) decides which component it deploys.
// `pulumi up` on the primary stack first, then on the secondary.
//
// A team with a Pulumi program of its own uses the components directly (see
// README.md, "Embedding in your own Pulumi program").
package main

import (
	"fmt"
	"maps"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/infra/deploy"
)

func main() { pulumi.Run(run) }

// run reads the iotdr config, deploys the component for the stack's role and exports
// its outputs as the stack's.
func run(ctx *pulumi.Context) error {
	cfg, err := deploy.LoadConfig(ctx)
	if err != nil {
		return err
	}
	var outputs pulumi.Map
	switch cfg.Role {
	case spec.RolePrimary:
		c, err := deploy.NewPrimary(ctx, "iotdr", &deploy.PrimaryArgs{Config: cfg.Config})
		if err != nil {
			return err
		}
		outputs = c.Outputs
	case spec.RoleSecondary:
		c, err := deploy.NewSecondary(ctx, "iotdr", &deploy.SecondaryArgs{Config: cfg.Config, PrimaryStack: cfg.PrimaryStack})
		if err != nil {
			return err
		}
		outputs = c.Outputs
	default:
		return fmt.Errorf("iotdr:role %q is neither %s nor %s", cfg.Role, spec.RolePrimary, spec.RoleSecondary)
	}
	for _, k := range slices.Sorted(maps.Keys(outputs)) {
		ctx.Export(k, outputs[k])
	}
	return nil
}
