// Claims of docs/guide.md checked as code, so that the guide cannot drift
// from the API again.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "goro/goro.hpp"

namespace {

// guide.md, "Channel operations are const": a plain (non-mutable) lambda
// can send, try_send, close, recv, try_recv and range over the channels it
// captures by value.
TEST(Guide, ChannelOperationsNeedNoMutableLambda) {
  int sum = 0;
  goro::run([&sum] {
    goro::chan<int> ch = goro::make_chan<int>(1);
    goro::chan<int> done = goro::make_chan<int>();
    goro::go([ch] {  // not mutable
      ch.send(1);
      ch.send(2);
      while (!ch.try_send(3)) goro::yield();
      ch.close();
    });
    goro::go([ch, done] {  // not mutable
      int s = ch.recv();
      if (auto r = ch.try_recv()) s += *r;  // may or may not find one
      for (int v : ch) s += v;
      done.send(s);
    });
    sum = done.recv();
  });
  EXPECT_EQ(sum, 6);
}

// guide.md, the same bullet: mutable is for moving out of other captures.
TEST(Guide, MutableOnlyToMoveCaptures) {
  std::string got;
  goro::run([&got] {
    goro::chan<std::string> out = goro::make_chan<std::string>(1);
    std::string v = "moved";
    goro::go([out, v = std::move(v)]() mutable { out.send(std::move(v)); });
    got = out.recv();
  });
  EXPECT_EQ(got, "moved");
}

}  // namespace
