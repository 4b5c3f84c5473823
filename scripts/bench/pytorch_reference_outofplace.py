"""../shared/bench/pytorch_reference.py with every in-place module made out-of-place: the reference as the comparison
runs it (scripts/bench/vs-pytorch.sh sets $PWLU_PYTORCH_REFERENCE to this file).

Why: `--act relu` swaps MobileNet-V3's Hardswish for ReLU, and the classifier's next module is torchvision's
Dropout(inplace=True). Its in-place write then overwrites the output ReLU's backward needs, and PyTorch 2.14 stops the
training step ("one of the variables needed for gradient computation has been modified by an inplace operation").
Out of place, the network and its work are the same but for one more allocation per dropout ([batch, 1280] here).
Arguments and output: the reference's.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'shared', 'bench'))
import pytorch_reference as ref  # noqa: E402

_build = ref.build


def build(arch, classes):
    model = _build(arch, classes)
    for m in model.modules():
        if getattr(m, 'inplace', False):
            m.inplace = False
    return model


ref.build = build

if __name__ == '__main__':
    ref.main()
