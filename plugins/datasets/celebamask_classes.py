"""The 19 classes of CelebAMask-HQ face parsing and their colours.

Class ids follow the order of the face synthesis report's label list, which is also the order
in which the release's own mask-merging script (``face_parsing/
Data_preprocessing/g_mask.py`` in the official repository) numbers the parts:
0 is background (no part mask), part ``PARTS[i]`` is class ``i + 1``.

The palette is the one of the release's visualisation script
(``face_parsing/Data_preprocessing/g_color.py``), the colours most CelebAMask-HQ
figures use.
"""

from __future__ import annotations

#: the part names as they appear in the mask file names (``NNNNN_<part>.png``), in class order
PARTS = ["skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear", "mouth", "u_lip",
         "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth"]

CLASS_NAMES = ["background", *PARTS]

PALETTE = [(0, 0, 0), (204, 0, 0), (76, 153, 0), (204, 204, 0), (51, 51, 255), (204, 0, 204), (0, 255, 255),
           (255, 204, 204), (102, 51, 0), (255, 0, 0), (102, 204, 0), (255, 255, 0), (0, 0, 153), (0, 0, 204),
           (255, 51, 153), (0, 204, 204), (0, 51, 0), (255, 153, 51), (0, 204, 0)]

#: side of the release's part masks in pixels
MASK_SIZE = 512

CITATION = ("MaskGAN: Towards Diverse and Interactive Facial Image Manipulation, CVPR 2020 "
            "(the CelebAMask-HQ dataset)")
