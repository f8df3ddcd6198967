"""A CNN digit classifier: scores generated digits (FID features) and is the transfer-learning baseline."""
import torch.nn as nn

from .base import DeepgenModel


def _block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class Classifier(DeepgenModel):
    kind = "classifier"

    def __init__(self, width: int = 32, feature_dim: int = 128, num_classes: int = 10):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *_block(1, w), nn.MaxPool2d(2),
            *_block(w, 2 * w), nn.MaxPool2d(2),
            *_block(2 * w, 4 * w),
            nn.Flatten(), nn.Linear(4 * w * 49, feature_dim), nn.BatchNorm1d(feature_dim), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(feature_dim, num_classes))

    def forward(self, x):
        return self.head(self.features(x))

    def feature_body(self):
        return self.features
