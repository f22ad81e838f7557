"""Convolution and pooling, explained one output cell at a time; kernels on real images.

Plain NumPy and PyTorch, no Streamlit, in four modules (everything importable from core.conv):
matrices (examples, limits, numbers as text), steps (the step engine, output size, fast path),
photos (kernels on images), code (the PyTorch snippet). Two engines:

* the *step engine* (`conv_steps`, `pool_steps`): explicit loops that record, for every output
  cell, where the window sits on the padded input, the element-wise products per channel, each
  channel's partial sum, the bias and the total. It is what the page animates, and the tests check
  it against `torch.nn.functional.conv2d` / `max_pool2d` / `avg_pool2d`.
* the *fast paths*: `conv2d` (one `F.conv2d` call, same result as the step engine) and
  `filter_image` for photos (OpenCV's filter2D with the same zero padding, stride and
  cross-correlation sums; a 1024×1024 colour photo in a few tens of milliseconds). Tests check
  both against the step engine.

Everything the Convolution page computes comes from here; `from core.conv import X` works for
every public name of the four modules.
"""
from core.conv.matrices import (  # noqa: F401 — re-exported
    DILATIONS, EXAMPLE_INPUT, EXAMPLE_KERNEL, EXAMPLE_OUTPUT, EXAMPLE_POOL_INPUT,
    EXAMPLE_RGB_BIAS, EXAMPLE_RGB_INPUT, EXAMPLE_RGB_KERNEL, EXAMPLE_RGB_SETTINGS, MAX_CHANNELS,
    MAX_INPUT_SIDE, MAX_KERNEL_SIDE, MatrixError, PADDINGS, STRIDES, fmt_num, fmt_sum, fmt_term,
    format_matrix, parse_matrix, parse_number, random_ints, resize_matrix,
)
from core.conv.steps import (  # noqa: F401 — re-exported
    as_bias, as_input, as_weight, check_hyper, ConvResult, ConvStep, OutputSize, POOL_MODES, PoolResult, PoolStep, conv2d, conv_steps,
    max_pool_padding, output_size, pad_input, padding_mask, pool_steps,
)
from core.conv.photos import (  # noqa: F401 — re-exported
    CHANNEL_NAMES, ChannelFilter, DISPLAY_MODES, KERNEL_PRESETS, KernelPreset,
    auto_display_mode, filter_channels, filter_image, kernel_fraction_text, normalize_kernel,
    recombine_channels, split_channels, tint_channel, to_display, to_gray,
)
from core.conv.code import (  # noqa: F401 — re-exported
    CODE_COMMENTS_EN, conv_code, pool_code,
)
