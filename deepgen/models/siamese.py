"""Siamese network (slide "Сиамские сети"): one backbone embeds both inputs; the distance of the
embeddings says whether they show one digit. The loss it was trained with is part of the model."""
import torch.nn as nn
import torch.nn.functional as F

from ..metric_losses import make_loss
from .base import DeepgenModel


def backbone(embedding_dim, width=32):
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * 49, 256), nn.BatchNorm1d(256), nn.ReLU(),
        nn.Linear(256, embedding_dim),
    )


class SiameseNet(DeepgenModel):
    kind = "siamese"

    def __init__(self, loss: str = "arcface", embedding_dim: int = 64, margin: float | None = None,
                 scale: float | None = None, width: int = 32):
        super().__init__()
        self.loss_name = loss
        self.backbone = backbone(embedding_dim, width)
        self.loss = make_loss(loss, embedding_dim, margin, scale)

    def forward(self, x):
        """Raw embeddings F(x)."""
        return self.backbone(x)

    def embed(self, x):
        """Unit-length embeddings: distances between them lie in [0, 2]."""
        return F.normalize(self.backbone(x), dim=1)

    def feature_body(self):
        return self.backbone
