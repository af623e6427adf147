// A select case kept past its select call must not compile: case objects
// point at their channel and at the value to send, which may be
// temporaries that die at the end of the statement that made the case.
// Built by tests/chan/select_compile_fail_test.cpp once per GORO_MISUSE
// value: 0 is the control (the inline spellings, which must compile), every
// other value must fail.
#include <goro/chan.hpp>
#include <goro/select.hpp>

#include <chrono>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

void misuse(goro::chan<int> ch) {
#if GORO_MISUSE == 0
  // Temporaries in the select call's argument list live as long as it.
  goro::select(goro::on_recv(goro::after(1s), [] {}), goro::on_send(ch, 42), goro::on_default());
  auto s = goro::select(goro::case_recv(goro::after(1s)), goro::case_send(ch, 42), goro::case_default());
  (void)s.index();
  std::vector<goro::select_case> cases;
  cases.push_back(goro::on_recv(goro::after(1s)));  // select_case keeps the channel alive
  cases.push_back(goro::on_send(ch, 42));           // and owns the value
  goro::select(cases);
#elif GORO_MISUSE == 1
  auto c = goro::on_recv(goro::after(1s));  // the timer channel dies here
  goro::select(c);
#elif GORO_MISUSE == 2
  auto c = goro::on_recv(goro::after(1s));
  goro::select(std::move(c));
#elif GORO_MISUSE == 3
  auto c = goro::on_send(ch, 42);  // the 42 dies here
  goro::select(std::move(c));
#elif GORO_MISUSE == 4
  auto c = goro::case_recv(goro::after(1s));
  (void)goro::select(std::move(c));
#elif GORO_MISUSE == 5
  auto c = goro::case_send(ch, 42);
  (void)goro::select(std::move(c), goro::case_default());
#elif GORO_MISUSE == 6
  auto c = goro::on_recv(goro::after(1s));
  std::vector<goro::select_case> cases;
  cases.push_back(std::move(c));  // select_case would retain a freed channel
#elif GORO_MISUSE == 7
  auto c = goro::on_default();
  auto d = c;  // cases are not copyable
#elif GORO_MISUSE == 8
  goro::select(goro::case_recv(ch), goro::on_default());  // the two forms do not mix
#elif GORO_MISUSE == 9
  auto s = goro::select(goro::case_recv(ch), goro::case_send(ch, 1));
  (void)s.get<1>();  // case 1 is a send: it has no value
#endif
}
