// Incoming signals on channels: Go's os/signal (Notify, Stop, Reset,
// Ignore, Ignored). For "cancel a context on SIGINT/SIGTERM" use
// goro::signal_notify_context (goro/context.hpp), which shares this
// machinery.
//
//   auto hup = goro::make_chan<int>(1);       // buffered: see signal_notify
//   goro::signal_notify(hup, {SIGHUP});
//   for (;;) {
//     hup.recv();                              // each SIGHUP
//     reload_config();
//   }
//
// How it works: while any channel or context is registered for a signal,
// the runtime's handler is installed for it; the handler hands the signal
// to a runtime thread (goro-signal), which sends its number on every
// channel registered for it, without blocking, and cancels the contexts.
// When the last registration for a signal goes (signal_stop,
// signal_reset, the context's stop), the action the signal had before
// the first registration is put back (usually the default: terminate).
// The signal is taken whichever thread the kernel gives it to: goroutines'
// workers, main, or the user's own std::threads.
//
// Signal masks: goro leaves the program's mask alone, as Go does when it
// is built as a library (c-archive, c-shared). The runtime's threads
// inherit the mask of the thread that started them, so a signal blocked
// in main before goro started is blocked in them too; if it is blocked in
// every thread, it stays pending and no registration sees it. Unblock it
// in some thread (or block it only after goro started, in the threads
// that must not take it). After fork(), the child takes each registered
// signal's earlier action again (as Go's child does before exec).
//
// All of these are callable from goroutines and plain threads, and are
// safe to call concurrently. Signal numbers are Linux's 1 to 64, except
// SIGKILL and SIGSTOP (which cannot be caught), the synchronous ones
// (SIGSEGV, SIGBUS, SIGFPE, SIGILL: the runtime reports those as crashes)
// and the real-time signals glibc keeps for itself (32 up to SIGRTMIN).
#pragma once

#include <initializer_list>

#include "goro/chan.hpp"

namespace goro {

// Relays the signals to c: from now on, each arrival of one of them sends
// its number on c (Go's signal.Notify). The send never blocks: when c has
// no room (and, unbuffered, no receiver waiting at that instant) the
// signal is dropped for c. So give c a buffer: one slot per kind of
// signal it takes is enough not to miss that one came (a signal arriving
// while its number still waits in c is dropped, as the kernel merges a
// signal that is still pending). With no signals listed, every signal
// that can be taken is relayed except SIGTRAP and SIGPROF (debuggers' and
// profilers'). Calling it again for the same channel adds signals to it;
// several channels may take the same signal, each gets its own copy.
//
// Throws goro::panic_error("os/signal: Notify using nil channel") for a
// nil channel, std::system_error(EINVAL) for a signal that cannot be taken
// (nothing is registered then), std::bad_alloc.
//
// Do not close c while it is registered: the runtime's send would find it
// closed, which ends the program with a fatal error (as Go's send on a
// closed channel panics in its signal goroutine). signal_stop first.
//
//   auto c = goro::make_chan<int>(1);
//   goro::signal_notify(c, {SIGUSR1, SIGUSR2});
//   int sig = c.recv();   // SIGUSR1 or SIGUSR2
void signal_notify(const send_chan<int>& c, std::initializer_list<int> signals = {});

// Stops relaying signals to c (Go's signal.Stop). When it returns, no
// further signal is sent on c (a value sent before may still be buffered
// in it), and every signal the handler took for c before the call has
// been sent on it: a signal reaches c or, once the earlier action is back,
// takes that action, never neither. (It waits for the relay thread to
// read what came before.) Signals nobody else is registered for get back
// the action they had before. A channel that is not registered is left
// alone.
void signal_stop(const send_chan<int>& c);

// Undoes the registrations for these signals (every signal that can be
// taken when none are listed, SIGPROF and SIGTRAP included): of every
// channel and of every signal_notify_context context (which is then no
// longer cancelled by them), and puts back each
// signal's earlier action (Go's signal.Reset). A signal nobody is
// registered for is left alone (an ignored one stays ignored).
// Throws std::system_error(EINVAL) for a signal that cannot be taken.
void signal_reset(std::initializer_list<int> signals = {});

// Makes the process ignore these signals (Go's signal.Ignore): their
// registrations are undone as by signal_reset, then their action is set
// to SIG_IGN. A later signal_notify takes them again; when that
// registration goes, they are ignored again. With no signals listed,
// every signal that can be taken. SIGPROF and SIGTRAP (a profiler's and
// a debugger's) lose their registrations but keep their action, listed or
// not, as in Go. Throws std::system_error(EINVAL).
void signal_ignore(std::initializer_list<int> signals = {});

// Whether sig is ignored now (its action is SIG_IGN), by signal_ignore
// or from the start (a program started by `nohup` ignores SIGHUP), as Go's
// signal.Ignored. A signal someone is registered for is not ignored.
bool signal_ignored(int sig);

}  // namespace goro
