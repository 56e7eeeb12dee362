#include "augment.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace siamese::training {

torch::Tensor augment_batch(const torch::Tensor& batch, const InputSpec& spec,
                            const AugmentOptions& options, std::mt19937& rng) {
  const int64_t b = batch.size(0), channels = batch.size(1);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::bernoulli_distribution coin(0.5);
  std::vector<float> theta(static_cast<size_t>(b) * 6);
  std::vector<float> gain(static_cast<size_t>(b));
  std::vector<float> offset(static_cast<size_t>(b * channels));
  // Each channel is normalised with its own mean and sd: mid-gray and a brightness step in
  // pixel units are different values in each.
  std::vector<double> sd(static_cast<size_t>(channels)), mid(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const size_t k = static_cast<size_t>(c);
    sd[k] = spec.std.empty() ? 1.0 : spec.std[std::min(k, spec.std.size() - 1)];
    const double mean = spec.mean.empty() ? 0.0 : spec.mean[std::min(k, spec.mean.size() - 1)];
    mid[k] = (0.5 - mean) / sd[k];
  }
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
    const double brightness = options.max_brightness * unit(rng);  // pixel units
    gain[static_cast<size_t>(i)] = static_cast<float>(contrast);
    for (int64_t c = 0; c < channels; ++c) {
      const size_t k = static_cast<size_t>(c);
      offset[static_cast<size_t>(i * channels + c)] =
          static_cast<float>(mid[k] * (1.0 - contrast) + brightness / sd[k]);
    }
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
  const torch::Tensor o =
      torch::from_blob(offset.data(), {b, channels, 1, 1}, opts).to(batch.device());
  out = out * g + o;
  if (options.erase_probability > 0) {
    // Random erasing: one rectangle per chosen face, all values from the caller's generator so a
    // run stays repeatable and resumable.
    const int64_t h = batch.size(2), w = batch.size(3);
    std::uniform_real_distribution<double> in_unit(0.0, 1.0);
    for (int64_t i = 0; i < b; ++i) {
      if (in_unit(rng) >= options.erase_probability) continue;
      const double span = options.erase_max - options.erase_min;
      const int64_t eh =
          std::max<int64_t>(1, std::lround(h * (options.erase_min + span * in_unit(rng))));
      const int64_t ew =
          std::max<int64_t>(1, std::lround(w * (options.erase_min + span * in_unit(rng))));
      const int64_t y0 = std::uniform_int_distribution<int64_t>(0, h - eh)(rng);
      const int64_t x0 = std::uniform_int_distribution<int64_t>(0, w - ew)(rng);
      // Noise around each channel's mid-gray (normalised units, sd 0.5), drawn from the
      // caller's generator.
      std::normal_distribution<float> noise(0.0f, 0.5f);
      std::vector<float> patch(static_cast<size_t>(channels * eh * ew));
      for (size_t v = 0; v < patch.size(); ++v) {
        patch[v] = noise(rng) + static_cast<float>(mid[v / static_cast<size_t>(eh * ew)]);
      }
      out[i].narrow(1, y0, eh).narrow(2, x0, ew).copy_(
          torch::from_blob(patch.data(), {batch.size(1), eh, ew}, torch::kFloat32));
    }
  }
  return out;
}

}  // namespace siamese::training
