package awsfront

import (
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iot-dr/iot-dr/simulator/registry"
)

// TestWireTableCoversRegistry: every SDK-shaped method of the registry is served, and
// nothing else is; a registry that gained a method needs `go generate`.
func TestWireTableCoversRegistry(t *testing.T) {
	client, reg := reflect.TypeFor[*iot.Client](), reflect.TypeFor[*registry.Registry]()
	var want []string
	for i := range reg.NumMethod() {
		m := reg.Method(i)
		if cm, ok := client.MethodByName(m.Name); ok && cm.Type.NumIn() == m.Type.NumIn() && cm.Type.In(2) == m.Type.In(2) {
			want = append(want, m.Name)
		}
	}
	var got []string
	for _, op := range iotOperations {
		got = append(got, op.Name)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("served operations %v\nregistry's SDK-shaped methods %v\nrun go generate ./simulator/awsfront", got, want)
	}
}

// TestRouterPrefersLiterals: a literal path segment wins over a label, labels are
// unescaped, and a known path with another method reports its methods.
func TestRouterPrefersLiterals(t *testing.T) {
	rt := newRouter(iotOperations)
	tests := []struct {
		method, path, op string
		labels           map[string]string
		allowed          []string
	}{
		{"PUT", "/thing-groups/addThingToThingGroup", "AddThingToThingGroup", nil, nil},
		{"GET", "/thing-groups/addThingToThingGroup", "DescribeThingGroup", map[string]string{"thingGroupName": "addThingToThingGroup"}, nil},
		{"POST", "/attached-policies/arn%3Aaws%3Aiot%3Aeu-west-1%3A1%3Acert%2Fab", "ListAttachedPolicies", map[string]string{"target": "arn:aws:iot:eu-west-1:1:cert/ab"}, nil},
		{"PUT", "/things/x", "", nil, []string{"DELETE", "GET", "PATCH", "POST"}},
		{"GET", "/nowhere", "", nil, nil},
		{"GET", "/things//principals", "", nil, nil},
	}
	for _, tc := range tests {
		op, labels, allowed, err := rt.match(tc.method, tc.path)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		name := ""
		if op != nil {
			name = op.Name
		}
		if name != tc.op || !reflect.DeepEqual(labels, tc.labels) || !slices.Equal(allowed, tc.allowed) {
			t.Errorf("%s %s: %q %v %v, want %q %v %v", tc.method, tc.path, name, labels, allowed, tc.op, tc.labels, tc.allowed)
		}
	}
}
