package deploy

import (
	"fmt"
	"maps"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iot"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sfn"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Halves says which halves of the replication pipeline a stack runs. Both stacks run
// both (failback, issue 10): a change made in either Region reaches the other through
// the state table, as in the simulator (simulator/world.go). The apply marks its
// registry writes in the Region's own mark table and its shadow writes carry
// spec.ApplyClientToken, so the capture there does not send them back.
type Halves struct {
	// Capture deploys the capture rules, the capture, re-check and sweep functions,
	// the re-check and sweep state machines and the sweep schedule (and, in the
	// primary, the device policy).
	Capture bool
	// Apply deploys the apply function on this Region's replica stream, with its
	// failure queue.
	Apply bool
}

// halves returns the halves every stack runs: both.
func (s *settings) halves() Halves { return Halves{Capture: true, Apply: true} }

// Pipeline is one Region's part of the replication pipeline: the error table and the
// redrive function always, plus the halves the stack runs.
type Pipeline struct {
	pulumi.ResourceState

	Halves Halves
	// StateTableName and StateTableArn are the state table and its replica in this
	// stack's Region.
	StateTableName, StateTableArn pulumi.StringOutput
	ErrorTable                    *dynamodb.Table
	// MarkTable is this Region's own apply-mark table (spec.MarkTable): the apply
	// writes it, the capture reads it.
	MarkTable *dynamodb.Table
	Functions map[string]*Function

	// Capture half; the device policy in the primary only.
	Rules          []*iot.TopicRule
	DevicePolicy   *iot.Policy
	RecheckMachine *sfn.StateMachine
	SweepMachine   *sfn.StateMachine

	// Apply half.
	DeadLetters *sqs.Queue
	Mapping     *lambda.EventSourceMapping
}

// pipelineArgs are what the pipeline needs from the rest of the stack.
type pipelineArgs struct {
	Account string
	Code    map[string]pulumi.Archive
	Halves  Halves
	// StateTableName is the state table's name (the primary's table resource, or the
	// primary stack's output in the secondary).
	StateTableName pulumi.StringOutput
	// StreamArn is the stream of the state table's replica in this Region (the
	// primary's own table, the secondary's replica), which feeds the apply.
	StreamArn pulumi.StringInput
}

// functionHalves says which half needs each of spec.PipelineFunctions; the redrive
// function serves whichever halves the stack runs.
var functionHalves = map[string]func(Halves) bool{
	spec.FunctionCapture: func(h Halves) bool { return h.Capture },
	spec.FunctionRecheck: func(h Halves) bool { return h.Capture },
	spec.FunctionSweep:   func(h Halves) bool { return h.Capture },
	spec.FunctionApply:   func(h Halves) bool { return h.Apply },
	spec.FunctionRedrive: func(Halves) bool { return true },
}

// functionsOf lists the pipeline Lambdas a stack running h deploys (and builds), in
// spec.PipelineFunctions order. A function the spec adds without a half here is an
// error, not silently left undeployed.
func functionsOf(h Halves) ([]string, error) {
	var out []string
	for _, n := range spec.PipelineFunctions {
		in, ok := functionHalves[n]
		if !ok {
			return nil, fmt.Errorf("pipeline function %s belongs to no half (infra/deploy/pipeline.go functionHalves)", n)
		}
		if in(h) {
			out = append(out, n)
		}
	}
	return out, nil
}

func newPipeline(ctx *pulumi.Context, s *settings, args pipelineArgs, opts ...pulumi.ResourceOption) (*Pipeline, error) {
	p := &Pipeline{Halves: args.Halves, Functions: map[string]*Function{}}
	if err := ctx.RegisterComponentResource("iotdr:replication:Pipeline", "pipeline", p, append(opts, previousPipeline(s))...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(p)
	region := s.Region()
	p.StateTableName = args.StateTableName
	// Built from the name rather than taken from the table resource: in the secondary
	// the replica is not a resource of this stack, and the ARN of a Region's replica is
	// the same pattern in every Region.
	p.StateTableArn = pulumi.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", region, args.Account, args.StateTableName)

	var err error
	// Each Region's own record of what it could not do; never replicated, since a
	// failure is about one Region's capture or apply.
	if p.ErrorTable, err = newTable(ctx, "errors", s.Prefix+"-errors", spec.ErrorTable(), nil, child); err != nil {
		return nil, err
	}
	// Marks are about one Region's applies, so the table is not replicated either.
	if p.MarkTable, err = newTable(ctx, "apply-marks", spec.Prefixed(s.Prefix, spec.MarkTableName), spec.MarkTable(), nil, child); err != nil {
		return nil, err
	}
	if args.Halves.Capture {
		if err := p.newCapture(ctx, s, args, child); err != nil {
			return nil, err
		}
	}
	if args.Halves.Apply {
		if err := p.newApply(ctx, s, args, child); err != nil {
			return nil, err
		}
	}
	if err := p.newRedrive(ctx, s, args, child); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{"stateTable": p.StateTableName, "errorTable": p.ErrorTable.Name, "markTable": p.MarkTable.Name}); err != nil {
		return nil, err
	}
	return p, nil
}

// previousPipeline aliases the component that held the pipeline's resources before
// replication v2 (the primary's "capture", the secondary's "apply"), so that resources
// that kept their physical names (the capture rules, their error log and role, the
// registry-event and indexing settings, the device policy, the error table, the
// stream-failure queue) are updated in place by `pulumi up`. Without it Pulumi would
// create each anew before deleting the old one, and fail on the name already taken.
func previousPipeline(s *settings) pulumi.ResourceOption {
	if s.Role == spec.RolePrimary {
		return pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String("capture"), Type: pulumi.String("iotdr:replication:Capture")}})
	}
	return pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String("apply")}})
}

// env is what awsclients.NewPipeline reads in every pipeline main (required: the peer
// Region, the state, error and mark tables), plus extra.
func (p *Pipeline) env(s *settings, extra pulumi.StringMap) pulumi.StringMap {
	peer := s.PrimaryRegion
	if s.Region() == s.PrimaryRegion {
		peer = s.SecondaryRegion
	}
	env := pulumi.StringMap{
		spec.EnvPeerRegion: pulumi.String(peer),
		spec.EnvStateTable: p.StateTableName,
		spec.EnvErrorTable: p.ErrorTable.Name,
		spec.EnvMarkTable:  p.MarkTable.Name,
	}
	maps.Copy(env, extra)
	return env
}

// Table permissions, each on one table of this Region.
func (p *Pipeline) stateReadWrite() statement {
	return statement{Sid: "ReadWriteState", Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem"}, Resources: []pulumi.StringInput{p.StateTableArn}}
}

func (p *Pipeline) stateRead() statement {
	return statement{Sid: "ReadState", Actions: []string{"dynamodb:GetItem"}, Resources: []pulumi.StringInput{p.StateTableArn}}
}

// readMarks lets the capture tell the apply's registry writes from changes made here.
func (p *Pipeline) readMarks() statement {
	return statement{Sid: "ReadApplyMarks", Actions: []string{"dynamodb:GetItem"}, Resources: []pulumi.StringInput{p.MarkTable.Arn}}
}

// writeMarks lets the apply mark the registry writes it makes (read-modify-write).
func (p *Pipeline) writeMarks() statement {
	return statement{Sid: "WriteApplyMarks", Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem"}, Resources: []pulumi.StringInput{p.MarkTable.Arn}}
}

func (p *Pipeline) recordErrors() statement {
	return statement{Sid: "RecordErrors", Actions: []string{"dynamodb:PutItem"}, Resources: []pulumi.StringInput{p.ErrorTable.Arn}}
}

// addFunction creates one pipeline Lambda and remembers it.
func (p *Pipeline) addFunction(ctx *pulumi.Context, s *settings, args functionArgs, child pulumi.ResourceOption) (*Function, error) {
	if args.Code == nil {
		return nil, fmt.Errorf("lambda build returned no archive for %s", args.Name)
	}
	f, err := newFunction(ctx, s, args, child)
	if err != nil {
		return nil, err
	}
	p.Functions[args.Name] = f
	return f, nil
}
