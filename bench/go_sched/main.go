// Go twin of goro-bench's sched suite (bench/sched_bench.cpp): the same
// four workloads, printed as rows of the shared format with impl "go"
//
//	go sched <case> <kind> seconds ops ns_per_op extra
//
// with GOMAXPROCS=2. Standard library only. bench/run-sched.sh builds it and
// runs it after goro-bench's sched rows; docs/benchmarks.md ("Scheduling
// under computing and blocking goroutines") describes the rows.
//
// Usage: go-sched [PATTERN...]
//
//	With no pattern every row runs; otherwise only rows whose
//	"suite/case/kind" contains one of the patterns as a substring.
//
// What differs from goro's side, by necessity:
//   - goro::blocking(sleep 1 ms) is syscall.Nanosleep here: a blocking system
//     call, which Go brackets with entersyscall/exitsyscall as goro brackets
//     a blocking section.
//   - goro also prints the machine's floor for wakeup_computing (two plain
//     threads and a futex); that needs no twin.
//   - burst_threads samples the thread count from a goroutine (Go has no
//     plain thread without cgo), which needs a P: with 40 goroutines
//     computing it runs only when the scheduler gets to it, so it samples
//     less often than every millisecond (the comment line gives the count).
package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	implName   = "go"
	schedProcs = 2

	wakeTrials  = 2_000
	idleSleep   = time.Millisecond
	timerTrials = 300
	timerDelay  = 5 * time.Millisecond
	burstGs     = 40
	// burstIters is the spinWork per goroutine: about 75 ms of CPU here when
	// the host gives the cores fully; fixed, as in goro's, so that the two
	// do the same work (see sched_bench.cpp).
	burstIters = 40_000_000
	giveUp     = 5 * time.Second
)

var (
	patterns []string
	base     = time.Now()
	workSink atomic.Uint64
)

func selected(suite, cas, kind string) bool {
	if len(patterns) == 0 {
		return true
	}
	key := suite + "/" + cas + "/" + kind
	for _, p := range patterns {
		if strings.Contains(key, p) {
			return true
		}
	}
	return false
}

// emitNs prints a row whose ns_per_op is given (a median) rather than
// seconds / ops.
func emitNs(cas string, d time.Duration, ops int, nsPerOp float64, extra string) {
	fmt.Printf("%s sched %s - %.6f %d %.2f %s\n", implName, cas, d.Seconds(), ops, nsPerOp, extra)
}

func comment(format string, args ...any) {
	fmt.Printf("# "+format+"\n", args...)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go-sched: FAILED: "+format+"\n", args...)
	os.Exit(1)
}

// nowNs is monotonic nanoseconds since the program started, never 0.
func nowNs() int64 { return int64(time.Since(base)) + 1 }

// quantile is the nearest-rank p-th quantile of sorted values.
func quantile(sorted []int64, p float64) int64 {
	rank := int(math.Ceil(p * float64(len(sorted))))
	if rank == 0 {
		return sorted[0]
	}
	return sorted[rank-1]
}

// percentilesUs sorts v and formats "p50=..us,p99=..us,max=..us".
func percentilesUs(v []int64) string {
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return fmt.Sprintf("p50=%.1fus,p99=%.1fus,max=%.1fus", float64(quantile(v, 0.50))/1e3,
		float64(quantile(v, 0.99))/1e3, float64(v[len(v)-1])/1e3)
}

// spinWork is the burst's computation, as in goro's: a xorshift64 chain.
func spinWork(iters int64, x uint64) uint64 {
	x |= 1
	for i := int64(0); i < iters; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// processCPUSeconds is the CPU time (user + system) this process has used.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func taskCount() int {
	f, err := os.Open("/proc/self/task")
	if err != nil {
		fail("open /proc/self/task: %v", err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		fail("read /proc/self/task: %v", err)
	}
	return len(names)
}

// wakeupComputing: R waits on an unbuffered channel; W sleeps 1 ms in a
// blocking system call (so the other P goes idle), sends to R (a
// non-blocking send, which succeeds only with R waiting), then busy-waits
// until R has stored the time it started. Latency = R's start minus the
// time just before the send.
func wakeupComputing() {
	ch := make(chan int)
	var started atomic.Int64
	lat := make([]int64, wakeTrials)
	retries := 0
	var wg sync.WaitGroup
	wg.Add(2)
	t := time.Now()
	go func() { // R
		for i := 0; i < wakeTrials; i++ {
			<-ch
			started.Store(nowNs())
		}
		wg.Done()
	}()
	go func() { // W
		ts := syscall.NsecToTimespec(int64(idleSleep))
		for i := 0; i < wakeTrials; i++ {
			started.Store(0)
			var t0 int64
			for {
				syscall.Nanosleep(&ts, nil)
				t0 = nowNs()
				sent := false
				select {
				case ch <- i:
					sent = true
				default:
				}
				if sent {
					break
				}
				retries++
			}
			var t1 int64
			for t1 = started.Load(); t1 == 0; t1 = started.Load() {
				if nowNs()-t0 > int64(giveUp) {
					fail("sched wakeup_computing: trial %d: the readied goroutine never ran", i)
				}
			}
			lat[i] = t1 - t0
		}
		wg.Done()
	}()
	wg.Wait()
	d := time.Since(t)
	extra := percentilesUs(lat)
	over := len(lat) - sort.Search(len(lat), func(i int) bool { return lat[i] > 50_000 })
	emitNs("wakeup_computing", d, wakeTrials, float64(quantile(lat, 0.5)), extra)
	comment("sched wakeup_computing: %d trials, %d sends retried (receiver not yet waiting); over 50 us: %d",
		wakeTrials, retries, over)
}

// timerLateBusy: a ping-pong pair keeps one P busy; T arms time.After(5 ms)
// and computes, polling the channel with a non-blocking receive, 300 times
// in a row. Lateness = when T received minus (the time just before After +
// 5 ms).
func timerLateBusy() {
	ping, pong := make(chan int), make(chan int)
	var stop atomic.Bool
	var roundTrips atomic.Int64
	var pair sync.WaitGroup
	pair.Add(2)
	go func() {
		v := 0
		for !stop.Load() {
			ping <- v
			v = <-pong
			roundTrips.Add(1)
		}
		ping <- -1
		pair.Done()
	}()
	go func() {
		for {
			v := <-ping
			if v < 0 {
				break
			}
			pong <- v + 1
		}
		pair.Done()
	}()
	time.Sleep(20 * time.Millisecond)
	late := make([]int64, timerTrials)
	done := make(chan struct{})
	rt0 := roundTrips.Load()
	t := time.Now()
	go func() { // T
		for i := 0; i < timerTrials; i++ {
			// The runtime fires the timer and starts f; T only watches
			// for f's mark (goro's after() channel would be fired by T's
			// own receive, Go 1.23's way, which measures nothing here).
			var fired atomic.Int64
			deadline := nowNs() + int64(timerDelay)
			time.AfterFunc(timerDelay, func() { fired.Store(nowNs()) })
			for fired.Load() == 0 {
				if nowNs()-deadline > int64(giveUp) {
					fail("sched timer_late_busy: trial %d: time.AfterFunc(5ms) never ran", i)
				}
			}
			late[i] = fired.Load() - deadline
		}
		close(done)
	}()
	<-done
	d := time.Since(t)
	rts := roundTrips.Load() - rt0
	stop.Store(true)
	pair.Wait()
	extra := percentilesUs(late)
	emitNs("timer_late_busy", d, timerTrials, float64(quantile(late, 0.5)), extra)
	within := func(ms int64) int {
		return sort.Search(len(late), func(i int) bool { return late[i] > ms*1_000_000 })
	}
	comment("sched timer_late_busy: %d timers of 5 ms, late by <= 2 ms: %d, <= 5 ms: %d, <= 20 ms: %d; "+
		"the ping-pong pair made %d round trips meanwhile (%.0f per ms)",
		timerTrials, within(2), within(5), within(20), rts, float64(rts)/(d.Seconds()*1e3))
	comment("sched timer_late_busy: idle control, receive blocked on after(5ms) with nothing else running: %s",
		idleTimerControl())
}

// idleTimerControl is goro's control beside timer_late_busy: time.After(5 ms)
// received by a goroutine blocked on it while nothing else runs, 100 times.
func idleTimerControl() string {
	late := make([]int64, 100)
	for i := range late {
		deadline := nowNs() + int64(timerDelay)
		<-time.After(timerDelay)
		late[i] = nowNs() - deadline
	}
	return percentilesUs(late)
}

// burstThreads: 40 goroutines each run spinWork for burstIters (about 75 ms
// of CPU); a
// sampling goroutine counts /proc/self/task every millisecond (when it gets
// a P). extra_threads = the most threads seen during the burst minus the
// count just before it.
func burstThreads() {
	iters := int64(burstIters)
	var stop atomic.Bool
	var most, samples atomic.Int64
	sampled := make(chan struct{})
	go func() {
		for !stop.Load() {
			n := int64(taskCount())
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			samples.Add(1)
			time.Sleep(time.Millisecond)
		}
		close(sampled)
	}()
	for samples.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	before := taskCount()
	most.Store(int64(before))
	samples0 := samples.Load()
	var wg sync.WaitGroup
	wg.Add(burstGs)
	cpu0 := processCPUSeconds()
	t := time.Now()
	for i := 0; i < burstGs; i++ {
		go func(i int) {
			r := spinWork(iters, uint64(i)*0x9e3779b97f4a7c15)
			for old := workSink.Load(); !workSink.CompareAndSwap(old, old^r); old = workSink.Load() {
			}
			wg.Done()
		}(i)
	}
	wg.Wait()
	d := time.Since(t)
	cpu := processCPUSeconds() - cpu0
	nsamples := samples.Load() - samples0
	stop.Store(true)
	<-sampled
	peak := int(most.Load())
	after := taskCount()
	extra := fmt.Sprintf("extra_threads=%d", peak-before)
	emitNs("burst_threads", d, burstGs, float64(d.Nanoseconds())/burstGs, extra)
	comment("sched burst_threads: GOMAXPROCS %d, threads before %d, most during %d, after %d, "+
		"%d samples; %d iterations per goroutine; process CPU %.2f s (%.2f ns per iteration), "+
		"so %.2f s of wall on 2 free cores",
		runtime.GOMAXPROCS(0), before, peak, after, nsamples, iters, cpu,
		cpu*1e9/(float64(iters)*burstGs), cpu/schedProcs)
}

// ringCompute: ringSize goroutines, goroutine i receiving on ring[i] and
// sending to ring[i+1]; ringTokens tokens, each good for ringHops/ringTokens
// hops, then handed to done. Each hop computes work by the clock (as
// goro's ring_compute).
const (
	ringSize   = 8
	ringTokens = 4
	ringHops   = 200_000
)

func ringCompute(kind string, work time.Duration) {
	ring := make([]chan int64, ringSize)
	for i := range ring {
		ring[i] = make(chan int64)
	}
	done := make(chan int64, ringTokens)
	var wg sync.WaitGroup
	wg.Add(ringSize)
	cpu0 := processCPUSeconds()
	start := time.Now()
	for i := 0; i < ringSize; i++ {
		go func(i int) {
			for left := range ring[i] {
				until := time.Now().Add(work)
				for time.Now().Before(until) {
				}
				if left == 1 {
					done <- 0
				} else {
					ring[(i+1)%ringSize] <- left - 1
				}
			}
			wg.Done()
		}(i)
	}
	for t := 0; t < ringTokens; t++ {
		ring[t*ringSize/ringTokens] <- ringHops / ringTokens
	}
	for t := 0; t < ringTokens; t++ {
		<-done
	}
	d := time.Since(start)
	cpu := processCPUSeconds() - cpu0
	for _, c := range ring {
		close(c)
	}
	wg.Wait()
	fmt.Printf("%s sched ring_compute %s %.6f %d %.2f cpus=%.2f\n", implName, kind, d.Seconds(), ringHops,
		float64(d.Nanoseconds())/ringHops, cpu/d.Seconds())
}

// blockingBeside: producers goroutines compute workUs by the clock per item
// and send it to a buffered channel main drains until it has items;
// blockers goroutines loop syscall.Nanosleep(sectionUs) (a blocking system
// call, as goro's blocking sections). Afterwards everyone stops, the
// producers' last sends drained (as goro's blocking_beside).
const producers = 4

func blockingBeside(kind string, workUs, sectionUs, blockers int, items int64) {
	ch := make(chan int, 64)
	var stop atomic.Bool
	var live atomic.Int32
	live.Store(int32(producers + blockers))
	work := time.Duration(workUs) * time.Microsecond
	cpu0 := processCPUSeconds()
	start := time.Now()
	for i := 0; i < producers; i++ {
		go func() {
			for !stop.Load() {
				until := time.Now().Add(work)
				for time.Now().Before(until) {
				}
				ch <- 1
			}
			live.Add(-1)
		}()
	}
	for i := 0; i < blockers; i++ {
		go func() {
			for !stop.Load() {
				ts := syscall.Timespec{Nsec: int64(sectionUs) * 1000}
				syscall.Nanosleep(&ts, nil)
			}
			live.Add(-1)
		}()
	}
	for n := int64(0); n < items; n++ {
		<-ch
	}
	d := time.Since(start)
	cpu := processCPUSeconds() - cpu0
	stop.Store(true)
	for live.Load() > 0 {
		select {
		case <-ch:
		default:
		}
		runtime.Gosched()
	}
	fmt.Printf("%s sched blocking_beside %s %.6f %d %.2f cpus=%.2f\n", implName, kind, d.Seconds(), items,
		float64(d.Nanoseconds())/float64(items), cpu/d.Seconds())
}

var blockingKinds = []struct {
	kind                        string
	workUs, sectionUs, blockers int
	items                       int64
}{
	{"w5_s5000_b1", 5, 5000, 1, 400_000},
	{"w20_s200_b1", 20, 200, 1, 120_000},
	{"w5_s200_b2", 5, 200, 2, 300_000},
}

// yield2P: yielders goroutines each call runtime.Gosched() yieldsEach times
// at GOMAXPROCS 2; ns per yield is the wall time over all the yields (as
// goro's yield_2p).
const (
	yielders   = 4
	yieldsEach = 2_000_000
)

func yield2P() {
	var wg sync.WaitGroup
	wg.Add(yielders)
	cpu0 := processCPUSeconds()
	start := time.Now()
	for i := 0; i < yielders; i++ {
		go func() {
			for k := 0; k < yieldsEach; k++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	d := time.Since(start)
	cpu := processCPUSeconds() - cpu0
	n := yielders * yieldsEach
	fmt.Printf("%s sched yield_2p - %.6f %d %.2f cpus=%.2f\n", implName, d.Seconds(), n,
		float64(d.Nanoseconds())/float64(n), cpu/d.Seconds())
}

func main() {
	patterns = os.Args[1:]
	runtime.GOMAXPROCS(schedProcs)
	fmt.Fprintf(os.Stderr, "go-sched: %s GOMAXPROCS=%d NumCPU=%d\n", runtime.Version(), runtime.GOMAXPROCS(0),
		runtime.NumCPU())
	if selected("sched", "wakeup_computing", "-") {
		wakeupComputing()
	}
	if selected("sched", "timer_late_busy", "-") {
		runtime.GC()
		timerLateBusy()
	}
	if selected("sched", "burst_threads", "-") {
		runtime.GC()
		burstThreads()
	}
	if selected("sched", "ring_compute", "2us") {
		runtime.GC()
		ringCompute("2us", 2*time.Microsecond)
	}
	if selected("sched", "ring_compute", "5us") {
		runtime.GC()
		ringCompute("5us", 5*time.Microsecond)
	}
	for _, b := range blockingKinds {
		if selected("sched", "blocking_beside", b.kind) {
			runtime.GC()
			blockingBeside(b.kind, b.workUs, b.sectionUs, b.blockers, b.items)
		}
	}
	if selected("sched", "yield_2p", "-") {
		runtime.GC()
		yield2P()
	}
}
