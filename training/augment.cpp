#include "augment.h"

#include <torch/torch.h>

#include <cmath>

namespace siamese::training {

torch::Tensor augment_batch(const torch::Tensor& batch, const InputSpec& spec,
                            const AugmentOptions& options, std::mt19937& rng) {
  const int64_t b = batch.size(0);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::bernoulli_distribution coin(0.5);
  std::vector<float> theta(static_cast<size_t>(b) * 6);
  std::vector<float> gain(static_cast<size_t>(b)), offset(static_cast<size_t>(b));
  const double std0 = spec.std.empty() ? 1.0 : spec.std[0];
  const double mean0 = spec.mean.empty() ? 0.0 : spec.mean[0];
  for (int64_t i = 0; i < b; ++i) {
    const double flip = options.flip && coin(rng) ? -1.0 : 1.0;
    const double scale = 1.0 + options.max_scale * unit(rng);
    const double angle = options.max_rotate_deg * unit(rng) * M_PI / 180.0;
    const double tx = 2.0 * options.max_shift * unit(rng);  // grid units: [-1, 1] spans the image
    const double ty = 2.0 * options.max_shift * unit(rng);
    // Output pixel -> input location: rotate/scale, mirror x, shift.
    float* t = &theta[static_cast<size_t>(i) * 6];
    t[0] = static_cast<float>(flip * std::cos(angle) / scale);
    t[1] = static_cast<float>(-std::sin(angle) / scale);
    t[2] = static_cast<float>(tx);
    t[3] = static_cast<float>(flip * std::sin(angle) / scale);
    t[4] = static_cast<float>(std::cos(angle) / scale);
    t[5] = static_cast<float>(ty);
    // Contrast around the normalised mid-gray, then brightness; both in pixel-range units.
    const double contrast = 1.0 + options.max_contrast * unit(rng);
    const double brightness = options.max_brightness * unit(rng) / std0;
    const double mid = (0.5 - mean0) / std0;
    gain[static_cast<size_t>(i)] = static_cast<float>(contrast);
    offset[static_cast<size_t>(i)] = static_cast<float>(mid * (1.0 - contrast) + brightness);
  }
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  const torch::Tensor th = torch::from_blob(theta.data(), {b, 2, 3}, opts).to(batch.device());
  const torch::Tensor grid = torch::nn::functional::affine_grid(th, batch.sizes(), false);
  namespace F = torch::nn::functional;
  torch::Tensor out = F::grid_sample(batch, grid,
                                     F::GridSampleFuncOptions()
                                         .mode(torch::kBilinear)
                                         .padding_mode(torch::kBorder)
                                         .align_corners(false));
  const torch::Tensor g = torch::from_blob(gain.data(), {b, 1, 1, 1}, opts).to(batch.device());
  const torch::Tensor o = torch::from_blob(offset.data(), {b, 1, 1, 1}, opts).to(batch.device());
  out = out * g + o;
  if (options.erase_probability > 0) {
    // Random erasing: one rectangle per chosen face, all values from the caller's generator so a
    // run stays repeatable and resumable.
    const int64_t h = batch.size(2), w = batch.size(3);
    std::uniform_real_distribution<double> in_unit(0.0, 1.0);
    for (int64_t i = 0; i < b; ++i) {
      if (in_unit(rng) >= options.erase_probability) continue;
      const double span = options.erase_max - options.erase_min;
      const int64_t eh = std::max<int64_t>(1, std::lround(h * (options.erase_min + span * in_unit(rng))));
      const int64_t ew = std::max<int64_t>(1, std::lround(w * (options.erase_min + span * in_unit(rng))));
      const int64_t y0 = std::uniform_int_distribution<int64_t>(0, h - eh)(rng);
      const int64_t x0 = std::uniform_int_distribution<int64_t>(0, w - ew)(rng);
      // Noise around mid-gray (normalised units, sd 0.5), drawn from the caller's generator.
      std::normal_distribution<float> noise(static_cast<float>((0.5 - mean0) / std0), 0.5f);
      std::vector<float> patch(static_cast<size_t>(batch.size(1) * eh * ew));
      for (float& v : patch) v = noise(rng);
      out[i].narrow(1, y0, eh).narrow(2, x0, ew).copy_(
          torch::from_blob(patch.data(), {batch.size(1), eh, ew}, torch::kFloat32));
    }
  }
  return out;
}

}  // namespace siamese::training
