// Command genwire writes awsfront's table of the AWS IoT REST-JSON wire format
// (iotwire_gen.go): each served operation's HTTP method, path template, path labels,
// query parameters and headers, and the JSON member names of every structure the
// operations read or write, exceptions included.
//
// It reads them from the aws-sdk-go-v2 IoT client's own generated serializers and
// deserializers (the module in go.mod, found through `go list -m`), so the simulator's
// server side is the exact inverse of the SDK's client side rather than a second,
// hand-copied model. Run it with `go generate ./simulator/awsfront` after upgrading
// the SDK.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iot-dr/iot-dr/simulator/registry"
)

const sdkModule = "github.com/aws/aws-sdk-go-v2/service/iot"

type binding struct{ Wire, Field string }

type operation struct {
	Name, Method, Path string
	Labels, Query      []binding
	Headers            []binding
}

var (
	reFunc        = regexp.MustCompile(`^func (?:\(m \*awsRestjson1_serializeOp(\w+)\) HandleSerialize|(awsRestjson1_\w+))\(`)
	reSplit       = regexp.MustCompile(`SplitURI\("([^"]+)"\)`)
	reMethod      = regexp.MustCompile(`request\.Method = "(\w+)"`)
	reEncoder     = regexp.MustCompile(`encoder\.(SetURI|SetQuery|AddQuery|SetHeader|AddHeader)\("([^"]+)"\).*\bv\.(\w+)`)
	reObjectKey   = regexp.MustCompile(`object\.Key\("([^"]+)"\)`)
	reFieldRef    = regexp.MustCompile(`\bv\.(\w+)`)
	reCase        = regexp.MustCompile(`^\t\tcase "([^"]+)"[,:]`)
	reLocation    = regexp.MustCompile(`locationName := "([^"]+)"`)
	reSetHeader   = regexp.MustCompile(`encoder\.(?:SetHeader|AddHeader)\(locationName\).*\bv\.(\w+)`)
	reSetField    = regexp.MustCompile(`\bsv\.(\w+)`)
	reSerDoc      = regexp.MustCompile(`^awsRestjson1_serialize(?:OpDocument(\w+Input)|Document(\w+))$`)
	reDeserDoc    = regexp.MustCompile(`^awsRestjson1_deserialize(?:OpDocument(\w+Output)|Document(\w+))$`)
	reHTTPBinding = regexp.MustCompile(`^awsRestjson1_serializeOpHttpBindings(\w+)Input$`)
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "genwire:", err)
		os.Exit(1)
	}
}

func run() error {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", sdkModule).Output()
	if err != nil {
		return fmt.Errorf("go list -m %s: %w", sdkModule, err)
	}
	dir := strings.TrimSpace(string(out))
	ops := map[string]*operation{}
	shapes := map[string]map[string]string{} // shape -> Go field -> JSON name
	addMember := func(shape, field, wire string) {
		if shapes[shape] == nil {
			shapes[shape] = map[string]string{}
		}
		shapes[shape][field] = wire
	}
	if err := scan(filepath.Join(dir, "serializers.go"), func(fn string, lines []string) {
		if m := reHTTPBinding.FindStringSubmatch(fn); m != nil {
			op := opOf(ops, m[1])
			location := ""
			for _, l := range lines {
				if h := reLocation.FindStringSubmatch(l); h != nil {
					location = h[1]
				}
				if h := reSetHeader.FindStringSubmatch(l); h != nil && location != "" {
					op.Headers = append(op.Headers, binding{Wire: location, Field: h[1]})
				}
				if e := reEncoder.FindStringSubmatch(l); e != nil {
					b := binding{Wire: e[2], Field: e[3]}
					switch e[1] {
					case "SetURI":
						op.Labels = append(op.Labels, b)
					case "SetQuery", "AddQuery":
						op.Query = append(op.Query, b)
					default:
						op.Headers = append(op.Headers, b)
					}
				}
			}
			return
		}
		if m := reSerDoc.FindStringSubmatch(fn); m != nil {
			shape := m[1]
			if shape == "" {
				shape = "types." + m[2]
			}
			last := ""
			for _, l := range lines {
				if k := reObjectKey.FindStringSubmatch(l); k != nil && last != "" {
					addMember(shape, last, k[1])
					last = ""
					continue
				}
				if f := reFieldRef.FindStringSubmatch(l); f != nil {
					last = f[1]
				}
			}
			return
		}
		if strings.HasPrefix(fn, "op:") {
			op := opOf(ops, strings.TrimPrefix(fn, "op:"))
			for _, l := range lines {
				if m := reSplit.FindStringSubmatch(l); m != nil {
					op.Path = m[1]
				}
				if m := reMethod.FindStringSubmatch(l); m != nil {
					op.Method = m[1]
				}
			}
		}
	}); err != nil {
		return err
	}
	if err := scan(filepath.Join(dir, "deserializers.go"), func(fn string, lines []string) {
		m := reDeserDoc.FindStringSubmatch(fn)
		if m == nil {
			return
		}
		shape := m[1]
		if shape == "" {
			shape = "types." + m[2]
		}
		pending := ""
		for _, l := range lines {
			if c := reCase.FindStringSubmatch(l); c != nil {
				pending = c[1]
				continue
			}
			if f := reSetField.FindStringSubmatch(l); f != nil && pending != "" {
				addMember(shape, f[1], pending)
				pending = ""
			}
		}
	}); err != nil {
		return err
	}

	served := servedOperations()
	need := map[string]bool{}
	var sel []*operation
	for _, name := range served {
		op := ops[name]
		if op == nil || op.Path == "" || op.Method == "" {
			return fmt.Errorf("operation %s: not found in the SDK's serializers", name)
		}
		sel = append(sel, op)
		m, _ := reflect.TypeFor[*iot.Client]().MethodByName(name)
		walk(m.Type.In(2), need)
		walk(m.Type.Out(0), need)
	}
	for shape := range shapes {
		if strings.HasPrefix(shape, "types.") && strings.HasSuffix(shape, "Exception") {
			need[shape] = true
		}
	}
	return write(sel, shapes, need)
}

// servedOperations are the registry fake's SDK-shaped methods: every one is served.
func servedOperations() []string {
	client := reflect.TypeFor[*iot.Client]()
	reg := reflect.TypeFor[*registry.Registry]()
	var names []string
	for i := range reg.NumMethod() {
		m := reg.Method(i)
		cm, ok := client.MethodByName(m.Name)
		if !ok || cm.Type.NumIn() != m.Type.NumIn() {
			continue
		}
		same := true
		for j := 1; j < m.Type.NumIn(); j++ {
			same = same && m.Type.In(j) == cm.Type.In(j)
		}
		if same {
			names = append(names, m.Name)
		}
	}
	sort.Strings(names)
	return names
}

// walk records t's shape name and those of the structures it contains.
func walk(t reflect.Type, seen map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.PkgPath() == "" || !strings.HasPrefix(t.PkgPath(), sdkModule) {
		return
	}
	name := shapeName(t)
	if seen[name] {
		return
	}
	seen[name] = true
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() {
			walk(f.Type, seen)
		}
	}
}

func shapeName(t reflect.Type) string {
	if strings.HasSuffix(t.PkgPath(), "/types") {
		return "types." + t.Name()
	}
	return t.Name()
}

func opOf(ops map[string]*operation, name string) *operation {
	if ops[name] == nil {
		ops[name] = &operation{Name: name}
	}
	return ops[name]
}

// scan calls fn with each top-level function's name and body lines. A serializer's
// HandleSerialize method is named "op:<Operation>".
func scan(path string, fn func(name string, lines []string)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read the SDK's wire code: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	name := ""
	var body []string
	flush := func() {
		if name != "" {
			fn(name, body)
		}
		name, body = "", nil
	}
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "func ") {
			flush()
			if m := reFunc.FindStringSubmatch(l); m != nil {
				if m[1] != "" {
					name = "op:" + m[1]
				} else {
					name = m[2]
				}
			}
			continue
		}
		if name != "" {
			body = append(body, l)
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

func write(ops []*operation, shapes map[string]map[string]string, need map[string]bool) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by genwire from %s's serializers and deserializers; DO NOT EDIT.\n\n", sdkModule)
	b.WriteString("package awsfront\n\n")
	b.WriteString("// iotOperations are the served AWS IoT operations' HTTP bindings.\n")
	b.WriteString("var iotOperations = []wireOperation{\n")
	bindings := func(bs []binding) string {
		if len(bs) == 0 {
			return "nil"
		}
		var parts []string
		for _, x := range bs {
			parts = append(parts, fmt.Sprintf("{%q, %q}", x.Wire, x.Field))
		}
		return "[]wireBinding{" + strings.Join(parts, ", ") + "}"
	}
	for _, op := range ops {
		fmt.Fprintf(&b, "\t{Name: %q, Method: %q, Path: %q, Labels: %s, Query: %s, Headers: %s},\n",
			op.Name, op.Method, op.Path, bindings(op.Labels), bindings(op.Query), bindings(op.Headers))
	}
	b.WriteString("}\n\n")
	b.WriteString("// iotShapes maps each structure (\"types.X\" for the types package) to its members'\n// JSON names, by Go field name.\n")
	b.WriteString("var iotShapes = map[string]map[string]string{\n")
	var names []string
	for n := range need {
		if len(shapes[n]) > 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		var fields []string
		for f := range shapes[n] {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		fmt.Fprintf(&b, "\t%q: {", n)
		for i, f := range fields {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: %q", f, shapes[n][f])
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return fmt.Errorf("format: %w", err)
	}
	return os.WriteFile("iotwire_gen.go", src, 0o644)
}
