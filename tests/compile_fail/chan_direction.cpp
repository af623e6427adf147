// Misuse of channel directions must not compile. Built by
// tests/chan/compile_fail_test.cpp once per GORO_MISUSE value: 0 is the
// control (valid code, must compile), every other value must fail.
#include "goro/chan.hpp"
#include "goro/select.hpp"

void misuse(goro::chan<int> c) {
  goro::send_chan<int> s = c;
  goro::recv_chan<int> r = c;
#if GORO_MISUSE == 0
  s.send(1);
  (void)r.recv();
  s.close();
  goro::select(goro::on_recv(r), goro::on_send(s, 1));
#elif GORO_MISUSE == 1
  r.send(1);  // send on a receive-only channel
#elif GORO_MISUSE == 2
  (void)s.recv();  // receive from a send-only channel
#elif GORO_MISUSE == 3
  r.close();  // close of a receive-only channel
#elif GORO_MISUSE == 4
  goro::select(goro::on_recv(s));  // select receive from a send-only channel
#elif GORO_MISUSE == 5
  goro::select(goro::on_send(r, 1));  // select send to a receive-only channel
#elif GORO_MISUSE == 6
  goro::chan<int> back = r;  // a view does not convert back to a channel
#elif GORO_MISUSE == 7
  (void)r.try_send(1);
#endif
}
