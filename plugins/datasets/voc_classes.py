"""The 21 classes of PASCAL VOC 2012 segmentation and the standard VOC colour map.

Class ids are the palette indices of the ``SegmentationClass`` PNGs: 0 is
background, 1..20 the object classes in the devkit's order, and 255 marks
"void" pixels (object borders and difficult regions) that count for nothing.
"""

from __future__ import annotations

CLASS_NAMES = ["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor"]

#: the palette index of void pixels in the VOC masks
VOID = 255


def voc_colour(index: int) -> tuple[int, int, int]:
    """The VOC devkit's colour for palette index ``index`` (0..255).

    The bits of the index are dealt out in turn to red, green and blue, from the
    most significant bit of each channel downwards: bit 0 of the index -> bit 7 of
    red, bit 1 -> bit 7 of green, bit 2 -> bit 7 of blue, bit 3 -> bit 6 of red, ...
    So 1 is (128, 0, 0), 15 (person) is (192, 128, 128) and 255 (void) is (224, 224, 192).
    """
    if not 0 <= index <= 255:
        raise ValueError(f"palette index {index} outside 0..255")
    channels = [0, 0, 0]
    for shift in range(7, -1, -1):          # the next output bit, most significant first
        for c in range(3):
            channels[c] |= (index & 1) << shift
            index >>= 1
    return channels[0], channels[1], channels[2]


PALETTE = [voc_colour(i) for i in range(len(CLASS_NAMES))]

CITATION = "The PASCAL Visual Object Classes (VOC) Challenge, International Journal of Computer Vision, 2010"
