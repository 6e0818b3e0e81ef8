"""Cityscapes label ids as SPADE uses them (``label_nc=35``).

Ids 0..33 with their names and colours are the official label definitions
(cityscapesScripts, ``cityscapesscripts/helpers/labels.py``): the ``id`` column,
which the ``*_gtFine_labelIds.png`` files hold. The official list also has
``license plate`` with id -1, which is never drawn into those files (the
official conversion skips negative ids, so plates keep the class underneath);
SPADE's 35 channels count it, so it is bench's id 34 and never appears in data.
"""

#: (id, name, colour), in id order
LABELS = [
    (0, "unlabeled", (0, 0, 0)), (1, "ego vehicle", (0, 0, 0)), (2, "rectification border", (0, 0, 0)),
    (3, "out of roi", (0, 0, 0)), (4, "static", (0, 0, 0)), (5, "dynamic", (111, 74, 0)),
    (6, "ground", (81, 0, 81)), (7, "road", (128, 64, 128)), (8, "sidewalk", (244, 35, 232)),
    (9, "parking", (250, 170, 160)), (10, "rail track", (230, 150, 140)), (11, "building", (70, 70, 70)),
    (12, "wall", (102, 102, 156)), (13, "fence", (190, 153, 153)), (14, "guard rail", (180, 165, 180)),
    (15, "bridge", (150, 100, 100)), (16, "tunnel", (150, 120, 90)), (17, "pole", (153, 153, 153)),
    (18, "polegroup", (153, 153, 153)), (19, "traffic light", (250, 170, 30)),
    (20, "traffic sign", (220, 220, 0)), (21, "vegetation", (107, 142, 35)), (22, "terrain", (152, 251, 152)),
    (23, "sky", (70, 130, 180)), (24, "person", (220, 20, 60)), (25, "rider", (255, 0, 0)),
    (26, "car", (0, 0, 142)), (27, "truck", (0, 0, 70)), (28, "bus", (0, 60, 100)),
    (29, "caravan", (0, 0, 90)), (30, "trailer", (0, 0, 110)), (31, "train", (0, 80, 100)),
    (32, "motorcycle", (0, 0, 230)), (33, "bicycle", (119, 11, 32)),
    (34, "license plate", (0, 0, 142)),   # official id -1
]

CLASS_NAMES = [name for _, name, _ in LABELS]
PALETTE = [colour for _, _, colour in LABELS]
LICENSE_PLATE = 34

CITATION = (
    "M. Cordts, M. Omran, S. Ramos, T. Rehfeld, M. Enzweiler, R. Benenson, U. Franke, S. Roth, B. Schiele. "
    "The Cityscapes Dataset for Semantic Urban Scene Understanding. CVPR 2016."
)
