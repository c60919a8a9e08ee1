"""Running classification metrics and per-iteration losses on the training device.

Final test metrics come from scikit-learn in `cnnlab.evaluate`; these are the cheap,
on-device counterparts the loop needs every epoch.
"""

from __future__ import annotations

from typing import Any

import torch

from cnnlab.data.mixing import hard_labels


class RunningConfusion:
    """A confusion matrix accumulated batch by batch on the device (rows: true, cols: predicted)."""

    def __init__(self, num_classes: int, device: torch.device) -> None:
        self.num_classes = num_classes
        self.counts = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=device)
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.samples = 0

    def update(self, logits: torch.Tensor, targets: torch.Tensor, loss_sum: torch.Tensor) -> None:
        """Add a batch: `logits` (B, K), `targets` (B,) or soft (B, K), `loss_sum` the batch's
        summed loss. A soft (mixed) target counts as its dominant class (`hard_labels`)."""
        targets = hard_labels(targets)
        predictions = logits.argmax(dim=1)
        flat = targets * self.num_classes + predictions
        self.counts += torch.bincount(flat, minlength=self.num_classes**2)
        self.loss_sum += loss_sum.detach().double()
        self.samples += int(targets.shape[0])

    def compute(self) -> dict[str, float]:
        """Mean loss, accuracy and macro F1 (classes absent from both truth and predictions skipped)."""
        matrix = self.counts.view(self.num_classes, self.num_classes).double()
        true_positive = matrix.diagonal()
        support = matrix.sum(dim=1)
        predicted = matrix.sum(dim=0)
        denominator = support + predicted
        present = denominator > 0
        f1 = (
            (2 * true_positive[present] / denominator[present]).mean()
            if present.any()
            else torch.zeros(())
        )
        samples = max(self.samples, 1)
        return {
            "loss": float(self.loss_sum) / samples,
            "accuracy": float(true_positive.sum()) / samples,
            "f1": float(f1),
        }


class LossBuffer:
    """Per-iteration losses kept on the device, moved to the host in groups (one sync each)."""

    def __init__(self) -> None:
        self.pending: list[tuple[int, float, torch.Tensor]] = []  # (iteration, lr, loss)

    def add(self, iteration: int, lr: float, loss: torch.Tensor) -> None:
        self.pending.append((iteration, lr, loss.detach()))

    def __len__(self) -> int:
        return len(self.pending)

    def flush(self, epoch: int) -> list[dict[str, Any]]:
        """The pending losses as rows `{iteration, epoch, loss, lr}`, emptying the buffer."""
        if not self.pending:
            return []
        values = torch.stack([loss for _, _, loss in self.pending]).float().cpu().tolist()
        rows = [
            {"iteration": iteration, "epoch": epoch, "loss": value, "lr": lr}
            for (iteration, lr, _), value in zip(self.pending, values, strict=True)
        ]
        self.pending.clear()
        return rows
