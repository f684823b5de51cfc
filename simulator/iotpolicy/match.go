package iotpolicy

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// A globPattern is a compiled glob: each element is a literal rune (>= 0) or
// one of the wildcard markers below. Keeping wildcards out of the rune space
// lets substituted variable values stay literal even when they contain '*'.
type globPattern []rune

const (
	anyRun rune = -1 // '*': any run of characters, including '/' and none
	anyOne rune = -2 // '?': exactly one character
)

// compileGlob compiles s, treating every '*' and '?' as a wildcard.
func compileGlob(s string) globPattern {
	p := make(globPattern, 0, len(s))
	return appendGlob(p, s)
}

func appendGlob(p globPattern, s string) globPattern {
	for _, r := range s {
		switch r {
		case '*':
			p = append(p, anyRun)
		case '?':
			p = append(p, anyOne)
		default:
			p = append(p, r)
		}
	}
	return p
}

func appendLiteral(p globPattern, s string) globPattern {
	for _, r := range s {
		p = append(p, r)
	}
	return p
}

// match reports whether s matches the whole pattern. It is the classic
// iterative glob with a single backtrack point, linear in practice and never
// exponential.
func (p globPattern) match(s string) bool {
	// Byte offsets into s; runes are decoded as we go so '?' consumes one
	// character, not one byte.
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		r, size := utf8.DecodeRuneInString(s[si:])
		if pi < len(p) {
			switch c := p[pi]; {
			case c == anyRun:
				starP, starS = pi, si
				pi++
				continue
			case c == anyOne || c == r:
				pi++
				si += size
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last '*' swallow one more character and retry.
		_, skip := utf8.DecodeRuneInString(s[starS:])
		starS += skip
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi] == anyRun {
		pi++
	}
	return pi == len(p)
}

// varKind identifies a policy variable.
type varKind int

const (
	varClientID varKind = iota
	varCertificateID
	varCommonName
	varThingName
	varThingTypeName
	varIsAttached
	varAttribute
)

// part is one piece of a resource: text (with active wildcards), a literal
// string (from the ${*}, ${?} and ${$} escapes) or a variable.
type part struct {
	text    string
	literal bool
	isVar   bool
	kind    varKind
	attr    string // attribute name for varAttribute
}

// resourcePattern is a compiled Resource entry. Resources without variables are
// compiled once; the others are expanded per request.
type resourcePattern struct {
	static globPattern // non-nil when the resource has no variables
	parts  []part
	size   int // rune count hint for expansion
}

const thingAttrPrefix = "iot:Connection.Thing.Attributes["

// compileResource splits a Resource string into text and ${...} references,
// rejecting variables the evaluator does not model.
func compileResource(s string) (resourcePattern, error) {
	var rp resourcePattern
	hasVar := false
	rest := s
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			if rest != "" {
				rp.parts = append(rp.parts, part{text: rest})
			}
			break
		}
		if i > 0 {
			rp.parts = append(rp.parts, part{text: rest[:i]})
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return rp, fmt.Errorf("unterminated policy variable in %q", s)
		}
		name := rest[i+2 : i+end]
		rest = rest[i+end+1:]
		switch name {
		case "*", "?", "$":
			rp.parts = append(rp.parts, part{text: name, literal: true})
			continue
		}
		v, err := parseVar(name)
		if err != nil {
			return rp, err
		}
		hasVar = true
		rp.parts = append(rp.parts, v)
	}
	rp.size = len(s)
	if !hasVar {
		rp.static = rp.expand(nil, Vars{})
		if rp.static == nil {
			rp.static = globPattern{}
		}
	}
	return rp, nil
}

func parseVar(name string) (part, error) {
	p := part{isVar: true}
	switch name {
	case "iot:ClientId":
		p.kind = varClientID
	case "iot:CertificateId":
		p.kind = varCertificateID
	case "iot:Certificate.Subject.CommonName":
		p.kind = varCommonName
	case "iot:Connection.Thing.ThingName":
		p.kind = varThingName
	case "iot:Connection.Thing.ThingTypeName":
		p.kind = varThingTypeName
	case "iot:Connection.Thing.IsAttached":
		p.kind = varIsAttached
	default:
		attr, ok := strings.CutPrefix(name, thingAttrPrefix)
		if !ok || !strings.HasSuffix(attr, "]") || len(attr) < 2 {
			return p, fmt.Errorf("policy variable ${%s} is not modelled by the simulator's policy evaluator", name)
		}
		p.kind = varAttribute
		p.attr = strings.TrimSuffix(attr, "]")
	}
	return p, nil
}

// expand builds the glob for this resource with vars substituted. It returns
// nil when a variable cannot be resolved, meaning "this resource does not
// match".
func (rp *resourcePattern) expand(buf globPattern, vars Vars) globPattern {
	p := buf[:0]
	if cap(p) < rp.size {
		p = make(globPattern, 0, rp.size+32)
	}
	for _, pt := range rp.parts {
		switch {
		case pt.literal:
			p = appendLiteral(p, pt.text)
		case pt.isVar:
			val, ok := vars.lookup(pt)
			if !ok {
				return nil
			}
			p = appendLiteral(p, val)
		default:
			p = appendGlob(p, pt.text)
		}
	}
	return p
}
