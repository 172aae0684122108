package broadcast

import "context"

// crash stops the pipeline the way kill -9 stops a process: the producer is
// closed with its transaction open (left for the next fence to abort),
// nothing is committed or aborted, and Run returns.
func (p *Pipeline) crash() {
	_ = p.do(context.Background(), func() {
		if a := p.act; a != nil {
			a.cancel()
			if a.cl != nil {
				a.cl.Close()
			}
			p.act = nil
		}
		p.shutdown = true
	})
	<-p.done
}
