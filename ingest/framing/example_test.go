package framing_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/feedd/feedd/ingest/framing"
)

func ExampleScanner() {
	d, err := framing.New(framing.Config{Mode: framing.ModeNMEA})
	if err != nil {
		panic(err)
	}
	// The port opened in the middle of a sentence.
	feed := "1131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n" +
		"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n" +
		"noise\r\n" +
		"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48\r\n"
	sc := framing.NewScanner(strings.NewReader(feed), d)
	for {
		frame, ok, err := sc.Next()
		if err == io.EOF {
			break
		}
		if ok {
			fmt.Printf("%s\n", frame)
		}
	}
	for _, r := range framing.Reasons {
		fmt.Printf("%s=%d ", r, d.Drops().Count(r))
	}
	fmt.Println()
	// Output:
	// $GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47
	// bad_checksum=1 oversize=0 truncated=0 noise=1 resync=1
}

func ExampleConfig_AppendFrame() {
	c := framing.Config{Mode: framing.ModeSTXETX, Check: framing.CheckXOR}
	wire, err := c.AppendFrame(nil, []byte("AB"))
	fmt.Printf("%q %v\n", wire, err)
	// Output: "\x02AB\x03\x00" <nil>
}

func ExampleAppendNMEA() {
	fmt.Printf("%q\n", framing.AppendNMEA(nil, []byte("GPTXT,01,01,02,hello")))
	// Output: "$GPTXT,01,01,02,hello*2F\r\n"
}
