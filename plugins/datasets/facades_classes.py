"""The 12 classes of the CMP Facade Database and the colours of its pix2pix label maps.

The colours are the 12 jet colour-map entries of the label halves; class id =
CMP id - 1, so ids are 0..11 with no unused id. Shared by ``facades`` and the
procedural ``synthetic-facades``.
"""

CLASS_NAMES = ["background", "facade", "window", "door", "cornice", "sill",
               "balcony", "blind", "deco", "molding", "pillar", "shop"]

PALETTE = [(0, 0, 224), (0, 48, 255), (0, 128, 255), (0, 208, 255), (32, 255, 224), (112, 255, 144),
           (192, 255, 64), (255, 240, 0), (255, 160, 0), (255, 80, 0), (255, 0, 0), (176, 0, 0)]

CITATION = ("CMP Facade Database: Spatial Pattern Templates for Recognition of Objects with Regular "
            "Structure, GCPR 2013")
