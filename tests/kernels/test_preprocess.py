"""pyveg's OpenCV preprocessing, reproduced without OpenCV: bit-exact against OpenCV itself."""

import cv2
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from vegdask.kernels import adaptive_threshold, clahe, median3, ndvi_to_uint8


def ndvi_field(shape, seed):
    rng = np.random.default_rng(seed)
    field = np.tanh(gaussian_filter(rng.standard_normal(shape), 3) * 3) * 0.4 + 0.3
    return field + rng.normal(0, 0.05, shape)


SHAPES = [(500, 500), (480, 517), (123, 77), (50, 50), (11, 11), (1000, 333)]


@pytest.mark.parametrize("shape", SHAPES)
def test_clahe_threshold_median_equal_opencv(shape):
    image = ndvi_to_uint8(ndvi_field(shape, sum(shape)))
    ours = clahe(image)
    theirs = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(11, 11)).apply(image)
    np.testing.assert_array_equal(ours, theirs)
    binary = adaptive_threshold(ours)
    reference = cv2.adaptiveThreshold(
        theirs, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 51, -5
    )
    np.testing.assert_array_equal(binary, reference)
    np.testing.assert_array_equal(median3(binary), cv2.medianBlur(reference, 3))


@pytest.mark.parametrize("clip", [0.0, 1.0, 4.0])
@pytest.mark.parametrize("tiles", [(8, 8), (3, 5)])
def test_clahe_other_settings_equal_opencv(clip, tiles):
    image = ndvi_to_uint8(ndvi_field((200, 150), 1))
    expected = cv2.createCLAHE(clipLimit=clip, tileGridSize=tiles[::-1]).apply(image)
    np.testing.assert_array_equal(clahe(image, clip_limit=clip, tiles=tiles), expected)


@pytest.mark.parametrize(("block", "c"), [(3, 0.0), (11, 2.0), (51, -5.0)])
def test_adaptive_threshold_other_settings(block, c):
    image = np.random.default_rng(2).integers(0, 256, (90, 70), dtype=np.uint8)
    expected = cv2.adaptiveThreshold(
        image, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, c
    )
    np.testing.assert_array_equal(adaptive_threshold(image, block_size=block, c=c), expected)


@pytest.mark.parametrize(("shape", "block"), [((20, 30), 51), ((1, 1), 3), ((3000, 2900), 51)])
def test_adaptive_threshold_small_and_large_images(shape, block):
    # A window larger than the image; and past int32's range of sums (the int64 path).
    image = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    expected = cv2.adaptiveThreshold(
        image, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, -5
    )
    np.testing.assert_array_equal(adaptive_threshold(image, block_size=block), expected)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (90, 70), (500, 500)])
def test_median3_of_grey_images_equals_opencv(shape):
    rng = np.random.default_rng(4)
    for image in (rng.integers(0, 256, shape, dtype=np.uint8), ndvi_to_uint8(rng.random(shape))):
        np.testing.assert_array_equal(median3(image), cv2.medianBlur(image, 3))


def test_ndvi_to_uint8_is_pyvegs_formula():
    ndvi = np.linspace(-1, 1, 2001)
    expected = [int((v + 1) / 2 * 255) for v in ndvi]
    np.testing.assert_array_equal(ndvi_to_uint8(ndvi), expected)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: clahe(np.zeros((4, 4), np.float32)), "uint8"),
        (lambda: adaptive_threshold(np.zeros((4, 4, 2), np.uint8)), "2-D"),
        (lambda: adaptive_threshold(np.zeros((9, 9), np.uint8), block_size=4), "odd"),
        (lambda: median3(np.zeros(4)), "2-D"),
    ],
)
def test_bad_input_is_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()
