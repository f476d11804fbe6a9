// Proves LibTorch links and runs: a matrix product and one autograd step.
#include <torch/torch.h>

#include "gtest/gtest.h"

TEST(TorchLinkTest, MatmulAndGradient) {
  torch::manual_seed(1);
  torch::Tensor a = torch::ones({2, 3});
  torch::Tensor b = torch::full({3, 4}, 2.0);
  torch::Tensor c = torch::matmul(a, b);
  ASSERT_EQ(c.size(0), 2);
  ASSERT_EQ(c.size(1), 4);
  EXPECT_FLOAT_EQ(c[1][3].item<float>(), 6.0f);

  torch::Tensor w = torch::tensor({3.0}, torch::requires_grad());
  torch::Tensor loss = (w * w).sum();
  loss.backward();
  EXPECT_FLOAT_EQ(w.grad()[0].item<float>(), 6.0f);
}
