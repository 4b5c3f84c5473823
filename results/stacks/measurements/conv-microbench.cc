// One 3x3 convolution per ResNet-20 stage (batch 64, channels-last), timed through ATen: forward, input and weight
// gradients, 20 repetitions after 3 warm-ups. Build: g++ -std=c++17 -O2 conv-microbench.cc -I/usr/include/torch/csrc/api/include
// -ltorch -ltorch_cpu -lc10 (in the root and on the host). Its output is conv-microbench.txt.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <chrono>
#include <iostream>
int main() {
  at::set_num_threads(2);
  std::cout << at::get_parallel_info() << "\n";
  for (int64_t c : {16, 32, 64}) {
    int64_t hw = c == 16 ? 32 : c == 32 ? 16 : 8;
    at::Tensor x = at::randn({64, c, hw, hw}).contiguous(at::MemoryFormat::ChannelsLast);
    at::Tensor w = at::randn({c, c, 3, 3}).contiguous(at::MemoryFormat::ChannelsLast);
    int be = 0;  // (the conv backend enum is not public in every version)
    at::Tensor y;
    for (int i = 0; i < 3; i++) y = at::convolution(x, w, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 1);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; i++) y = at::convolution(x, w, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 1);
    auto t1 = std::chrono::steady_clock::now();
    at::Tensor dy = at::randn_like(y);
    for (int i = 0; i < 20; i++) at::convolution_backward(dy, x, w, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 1, {true, false, false});
    auto t2 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; i++) at::convolution_backward(dy, x, w, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 1, {false, true, false});
    auto t3 = std::chrono::steady_clock::now();
    auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count() / 20; };
    std::cout << "c" << c << " backend " << static_cast<int>(be) << " fwd " << ms(t0, t1) << " ms, dgrad " << ms(t1, t2) << " ms, wgrad " << ms(t2, t3) << " ms, y cl " << y.is_contiguous(at::MemoryFormat::ChannelsLast) << "\n";
  }
}
