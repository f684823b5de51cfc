// Command infra is iot-dr's Pulumi program. One program serves both stacks: the
// configuration's role (primary or secondary, by default the stack name) decides what
// it deploys. `pulumi up` on the primary stack first, then on the secondary.
//
// It is not a library: the resources, their settings and the documents they carry
// (rule SQL, state machine, policies) come from the functions/spec package, and the
// Lambda code from functions/cmd, compiled at deploy time.
package main

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

func main() { pulumi.Run(deploy) }
