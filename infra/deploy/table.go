package deploy

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// newTable creates an on-demand table with the spec's key, TTL and stream, point-in-time
// recovery and KMS encryption, and a replica in each of replicaRegions (a global table,
// version 2019.11.21). On-demand fits the bursty, usually idle traffic of registry and
// shadow changes.
func newTable(ctx *pulumi.Context, name, physical string, t spec.Table, replicaRegions []string, opts ...pulumi.ResourceOption) (*dynamodb.Table, error) {
	args := &dynamodb.TableArgs{
		Name:        pulumi.String(physical),
		BillingMode: pulumi.String("PAY_PER_REQUEST"),
		HashKey:     pulumi.String(t.HashKey),
		Attributes: dynamodb.TableAttributeArray{
			&dynamodb.TableAttributeArgs{Name: pulumi.String(t.HashKey), Type: pulumi.String("S")},
		},
		PointInTimeRecovery:  &dynamodb.TablePointInTimeRecoveryArgs{Enabled: pulumi.Bool(true)},
		ServerSideEncryption: &dynamodb.TableServerSideEncryptionArgs{Enabled: pulumi.Bool(true)},
	}
	if t.TTLAttribute != "" {
		args.Ttl = &dynamodb.TableTtlArgs{AttributeName: pulumi.String(t.TTLAttribute), Enabled: pulumi.Bool(true)}
	}
	if t.StreamView != "" {
		args.StreamEnabled = pulumi.Bool(true)
		args.StreamViewType = pulumi.String(t.StreamView)
	}
	var replicas dynamodb.TableReplicaTypeArray
	for _, r := range replicaRegions {
		replicas = append(replicas, &dynamodb.TableReplicaTypeArgs{
			RegionName:          pulumi.String(r),
			PointInTimeRecovery: pulumi.Bool(true),
			PropagateTags:       pulumi.Bool(true),
		})
	}
	if len(replicas) > 0 {
		args.Replicas = replicas
	}
	tbl, err := dynamodb.NewTable(ctx, name, args, opts...)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", name, err)
	}
	return tbl, nil
}

// StateTable is the global table that carries state between the Regions. The primary
// stack creates it once, with its replica in the secondary Region (a table and its
// replicas are one resource to DynamoDB, so only one stack may own it); the secondary
// stack finds its replica through the primary's outputs.
type StateTable struct {
	pulumi.ResourceState

	Table *dynamodb.Table
	// ReplicaArn and ReplicaStreamArn are the secondary replica's table and stream:
	// that stream feeds the secondary's apply function.
	ReplicaArn, ReplicaStreamArn pulumi.StringOutput
}

func newStateTable(ctx *pulumi.Context, s *settings, opts ...pulumi.ResourceOption) (*StateTable, error) {
	st := &StateTable{}
	if err := ctx.RegisterComponentResource("iotdr:replication:StateTable", "state", st, opts...); err != nil {
		return nil, err
	}
	tbl, err := newTable(ctx, "state", s.Prefix+"-state", spec.StateTable(), []string{s.SecondaryRegion}, pulumi.Parent(st))
	if err != nil {
		return nil, err
	}
	replica := func(field func(dynamodb.TableReplicaType) *string, what string) pulumi.StringOutput {
		return tbl.Replicas.ApplyT(func(rs []dynamodb.TableReplicaType) (string, error) {
			for _, r := range rs {
				if r.RegionName == s.SecondaryRegion && field(r) != nil {
					return *field(r), nil
				}
			}
			return "", fmt.Errorf("state table has no %s in %s", what, s.SecondaryRegion)
		}).(pulumi.StringOutput)
	}
	st.Table = tbl
	st.ReplicaArn = replica(func(r dynamodb.TableReplicaType) *string { return r.Arn }, "replica ARN")
	st.ReplicaStreamArn = replica(func(r dynamodb.TableReplicaType) *string { return r.StreamArn }, "replica stream")
	if err := ctx.RegisterResourceOutputs(st, pulumi.Map{"name": tbl.Name, "replicaStreamArn": st.ReplicaStreamArn}); err != nil {
		return nil, err
	}
	return st, nil
}
