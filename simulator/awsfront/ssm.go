package awsfront

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// SSM is one Region's parameter store. Writes to a bound parameter (the probe's
// force-fail switch) take effect on the simulator before PutParameter returns. Safe for
// concurrent use.
type SSM struct {
	region, account string

	mu     sync.Mutex
	params map[string]*parameter
}

type parameter struct {
	value    string
	typ      ssmtypes.ParameterType
	version  int64
	modified time.Time
	onSet    func(on bool)
}

func newSSM(region, account string) *SSM {
	return &SSM{region: region, account: account, params: map[string]*parameter{}}
}

// bind creates name with value and calls onSet with the parsed switch on every write.
func (s *SSM) bind(name, value string, onSet func(on bool)) {
	s.params[name] = &parameter{value: value, typ: ssmtypes.ParameterTypeString, version: 1, modified: time.Now(), onSet: onSet}
}

// GetParameter returns a parameter's current value.
func (s *SSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	name := aws.ToString(in.Name)
	if name == "" {
		return nil, &ssmtypes.ValidationException{Message: aws.String("Name is required")}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.params[name]
	if !ok {
		return nil, &ssmtypes.ParameterNotFound{Message: aws.String(fmt.Sprintf("Parameter %s not found.", name))}
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{
		Name:             aws.String(name),
		ARN:              aws.String(fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", s.region, s.account, strings.TrimPrefix(name, "/"))),
		Type:             p.typ,
		DataType:         aws.String("text"),
		Value:            aws.String(p.value),
		Version:          p.version,
		LastModifiedDate: aws.Time(p.modified),
	}}, nil
}

// PutParameter creates or (with Overwrite) updates a parameter. A bound switch is set on
// when the value parses as true with strconv.ParseBool, off otherwise, as the probe
// reads it.
func (s *SSM) PutParameter(_ context.Context, in *ssm.PutParameterInput, _ ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	name := aws.ToString(in.Name)
	if name == "" || in.Value == nil {
		return nil, &ssmtypes.ValidationException{Message: aws.String("Name and Value are required")}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.params[name]
	switch {
	case ok && !aws.ToBool(in.Overwrite):
		return nil, &ssmtypes.ParameterAlreadyExists{Message: aws.String(fmt.Sprintf("The parameter %s already exists.", name))}
	case !ok:
		typ := in.Type
		if typ == "" {
			typ = ssmtypes.ParameterTypeString
		}
		p = &parameter{typ: typ}
		s.params[name] = p
	}
	p.value, p.modified = *in.Value, time.Now()
	p.version++
	if p.onSet != nil {
		on, _ := strconv.ParseBool(strings.TrimSpace(p.value))
		p.onSet(on)
	}
	return &ssm.PutParameterOutput{Version: p.version, Tier: ssmtypes.ParameterTierStandard}, nil
}
