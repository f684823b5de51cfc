// Command infra is iot-dr's Pulumi program. One program serves both stacks: the
// configuration's role (primary or secondary, by default the stack name) decides what
// it deploys. `pulumi up` on the primary stack first, then on the secondary.
//
// Both stacks deploy the state table's part in their Region (the primary creates the
// global table with its replica in the secondary), their own error table and redrive
// function, the health probe and the domain configuration. Of the replication pipeline
// the primary runs the capture half (capture rules, capture, re-check and sweep) and
// the secondary the apply half (the apply function on its replica's stream): the
// registry carries no client token, so a capture in the Region being applied to would
// send the apply's registry writes back. Failback (issue 10) turns on the other half in
// each stack once that direction is loop-free (see Halves in pipeline.go).
//
// It is not a library: the resources, their settings and the documents they carry
// (rule SQL, state machine, policies) come from the functions/spec package, and the
// Lambda code from functions/cmd, compiled at deploy time.
package main

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

func main() { pulumi.Run(deploy) }
