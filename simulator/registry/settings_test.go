package registry

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// TestEventConfigurationsGovernPublishing: the registry events start on; a type
// switched off publishes nothing while the others still do, and comes back when
// switched on.
func TestEventConfigurationsGovernPublishing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	out, err := f.DescribeEventConfigurations(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, et := range modelledEvents {
		if !out.EventConfigurations[string(et)].Enabled {
			t.Errorf("%s starts off", et)
		}
	}
	if out.EventConfigurations[string(types.EventTypeJob)].Enabled {
		t.Error("JOB events (not modelled) read as on")
	}
	if _, err := f.UpdateEventConfigurations(ctx, &iot.UpdateEventConfigurationsInput{EventConfigurations: map[string]types.Configuration{
		string(types.EventTypeThing): {Enabled: false},
	}}); err != nil {
		t.Fatal(err)
	}
	f.mustCreateThing(t, "quiet", nil, "")
	f.mustCreateGroup(t, "loud", "")
	if got := strings.Join(f.pub.topics(), " "); got != "$aws/events/thingGroup/loud/created" {
		t.Errorf("with THING off, topics = %q", got)
	}
	if out, _ := f.DescribeEventConfigurations(ctx, nil); out.EventConfigurations[string(types.EventTypeThing)].Enabled {
		t.Error("THING still reads as on")
	}
	if _, err := f.UpdateEventConfigurations(ctx, &iot.UpdateEventConfigurationsInput{EventConfigurations: map[string]types.Configuration{
		string(types.EventTypeThing): {Enabled: true},
	}}); err != nil {
		t.Fatal(err)
	}
	f.mustCreateThing(t, "heard", nil, "")
	if got := strings.Join(f.pub.topics(), " "); got != "$aws/events/thing/heard/created" {
		t.Errorf("with THING on again, topics = %q", got)
	}
	for k, want := range map[string]string{"NOT_A_TYPE": "not an event type", string(types.EventTypeJob): "not modelled"} {
		_, err := f.UpdateEventConfigurations(ctx, &iot.UpdateEventConfigurationsInput{EventConfigurations: map[string]types.Configuration{k: {Enabled: true}}})
		wantErr(t, err, "InvalidRequestException")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("enable %s: %v, want %q", k, err, want)
		}
	}
}

func TestIndexingConfiguration(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	mode := func() types.ThingIndexingMode {
		t.Helper()
		out, err := f.GetIndexingConfiguration(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out.ThingIndexingConfiguration.ThingIndexingMode
	}
	if m := mode(); m != types.ThingIndexingModeRegistry {
		t.Errorf("starts %s", m)
	}
	if _, err := f.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeOff}}); err != nil {
		t.Fatal(err)
	}
	if m := mode(); m != types.ThingIndexingModeOff {
		t.Errorf("after OFF: %s", m)
	}
	_, err := f.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: "SOMETIMES"}})
	wantErr(t, err, "InvalidRequestException")
}

func TestDomainConfigurationLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, err := f.DescribeDomainConfiguration(ctx, &iot.DescribeDomainConfigurationInput{DomainConfigurationName: aws.String("devices")})
	wantErr(t, err, "ResourceNotFoundException")
	if !f.DomainEnabled("iot.example.com") {
		t.Error("a domain no configuration names is refused")
	}
	in := &iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("devices"), DomainName: aws.String("IoT.example.com"),
		ServerCertificateArns: []string{"arn:aws:acm:eu-west-1:123456789012:certificate/x"}}
	if _, err := f.CreateDomainConfiguration(ctx, in); err != nil {
		t.Fatal(err)
	}
	_, err = f.CreateDomainConfiguration(ctx, in)
	wantErr(t, err, "ResourceAlreadyExistsException")
	_, err = f.CreateDomainConfiguration(ctx, &iot.CreateDomainConfigurationInput{DomainConfigurationName: aws.String("bare")})
	wantErr(t, err, "InvalidRequestException")
	d, err := f.DescribeDomainConfiguration(ctx, &iot.DescribeDomainConfigurationInput{DomainConfigurationName: aws.String("devices")})
	if err != nil {
		t.Fatal(err)
	}
	if d.DomainConfigurationStatus != types.DomainConfigurationStatusEnabled || aws.ToString(d.DomainName) != "iot.example.com" ||
		d.ServiceType != types.ServiceTypeData || len(d.ServerCertificates) != 1 || d.ServerCertificates[0].ServerCertificateStatus != types.ServerCertificateStatusValid ||
		!strings.HasPrefix(aws.ToString(d.DomainConfigurationArn), "arn:aws:iot:"+testRegion+":"+testAccount+":domainconfiguration/devices/") {
		t.Errorf("described %+v", d)
	}
	if !f.DomainEnabled("iot.example.com.") {
		t.Error("an enabled domain is refused")
	}
	if _, err := f.UpdateDomainConfiguration(ctx, &iot.UpdateDomainConfigurationInput{DomainConfigurationName: aws.String("devices"),
		DomainConfigurationStatus: types.DomainConfigurationStatusDisabled}); err != nil {
		t.Fatal(err)
	}
	if f.DomainEnabled("iot.example.com") {
		t.Error("a disabled domain is still served")
	}
	d, _ = f.DescribeDomainConfiguration(ctx, &iot.DescribeDomainConfigurationInput{DomainConfigurationName: aws.String("devices")})
	if d.DomainConfigurationStatus != types.DomainConfigurationStatusDisabled {
		t.Errorf("status %s after disabling", d.DomainConfigurationStatus)
	}
	_, err = f.UpdateDomainConfiguration(ctx, &iot.UpdateDomainConfigurationInput{DomainConfigurationName: aws.String("nope")})
	wantErr(t, err, "ResourceNotFoundException")
}
