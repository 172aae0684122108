package member

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/ingest/hostclock"
)

// TestStatusReadsBack: every field of the /status document, given a value
// that is not its zero, decodes back into Status as it was: the one type
// serves the daemon that writes the document and every reader of it.
func TestStatusReadsBack(t *testing.T) {
	var want Status
	fill(t, reflect.ValueOf(&want).Elem(), "Status")
	raw, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var got Status
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("decoding the document this type wrote: %v\n%s", err, raw)
	}
	if !reflect.DeepEqual(got, want) {
		again, _ := json.Marshal(got)
		t.Errorf("the document does not read back:\nwrote %s\nread  %s", raw, again)
	}
}

// fill gives every exported field below v a value other than its zero that
// encoding/json writes: 1 for numbers (an enum's second name), a fixed
// instant for times, one element for slices and maps.
func fill(t *testing.T, v reflect.Value, path string) {
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.Date(2026, 12, 4, 19, 5, 0, 123456789, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), path)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Tag.Get("json") == "-" {
				continue
			}
			fill(t, v.Field(i), path+"."+f.Name)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0), path+"[]")
	case reflect.Map:
		k := reflect.New(v.Type().Key()).Elem()
		fill(t, k, path+"[key]")
		e := reflect.New(v.Type().Elem()).Elem()
		fill(t, e, path+"[]")
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	default:
		t.Fatalf("%s: no value to fill a %s with", path, v.Type())
	}
}

// TestHealthyByTheLoopsTurns: /healthz fails once the control loop has not
// turned for its limit, measured on the monotonic clock (a step of the wall
// clock says nothing about the loop), and passes again at its next turn.
func TestHealthyByTheLoopsTurns(t *testing.T) {
	m := &Member{}
	m.cfg.Pair.Core.HeartbeatInterval = 100 * time.Millisecond // limit: 2 s
	m.turned()
	if err := m.healthy(); err != nil {
		t.Fatalf("just turned: %v", err)
	}
	if d := hostclock.Now() - m.lastLoop.Load(); d < 0 || d > int64(time.Second) {
		t.Fatalf("the last turn is stamped %d ns from the monotonic clock's now: not on that clock", d)
	}
	m.lastLoop.Add(-int64(3 * time.Second))
	if err := m.healthy(); err == nil || !strings.Contains(err.Error(), "control loop has not run for 3") {
		t.Fatalf("3 s without a turn: %v", err)
	}
	m.turned()
	if err := m.healthy(); err != nil {
		t.Fatalf("turned again: %v", err)
	}
}
