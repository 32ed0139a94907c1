"""The twin network: one parameter set, gradients from both branches and the pair head."""

import torch

from siamnet.core import (ConvNet, KochNet, PairHead, PairMiner, PairObjective, ResNet, SiameseNetwork,
                          build_encoder)


def test_encoders_end_in_an_encoding_without_softmax():
    for enc, size in [(KochNet(), 105), (ConvNet(input_size=28), 28), (ResNet(input_size=56), 56),
                      (ConvNet(input_size=28, embedding_dim=64, normalize=False), 28)]:
        z = enc(torch.randn(3, 1, size, size))
        assert z.shape == (3, enc.embedding_dim)
        if enc.normalize:
            assert torch.allclose(z.norm(dim=1), torch.ones(3), atol=1e-5)
        assert not torch.allclose(z.sum(1), torch.ones(3))  # not a probability vector


def test_twins_share_one_parameter_set_and_both_branches_train_it():
    torch.manual_seed(0)
    enc = build_encoder("convnet", input_size=28, channels=8)
    net = SiameseNetwork(enc, PairHead(enc.embedding_dim))
    n_enc = sum(p.numel() for p in enc.parameters())
    n_head = enc.embedding_dim + 1
    assert sum(p.numel() for p in net.parameters()) == n_enc + n_head  # no second copy of the encoder

    net.eval()
    x1, x2 = torch.randn(4, 1, 28, 28), torch.randn(4, 1, 28, 28)
    p = net.similarity(x1, x2)
    assert p.shape == (4,) and ((p > 0) & (p < 1)).all()
    # the same input on both sides gives the same encoding (shared weights): distance 0
    assert torch.allclose(net.pair_distance(x1, x1), torch.zeros(4), atol=1e-6)

    # gradient flows from the head's loss into the one encoder, through both branches
    w = enc.conv[0][0].weight
    g1 = torch.autograd.grad(net.head.logit(enc(x1), enc(x2.detach()).detach()).sum(), w)[0]
    g2 = torch.autograd.grad(net.head.logit(enc(x1).detach(), enc(x2)).sum(), w)[0]
    both = torch.autograd.grad(net.head.logit(enc(x1), enc(x2)).sum(), w)[0]
    assert g1.abs().sum() > 0 and g2.abs().sum() > 0
    assert torch.allclose(both, g1 + g2, atol=1e-5)


def test_pair_objective_updates_encoder_and_head():
    torch.manual_seed(0)
    enc = build_encoder("convnet", input_size=28, channels=8)
    head = PairHead(enc.embedding_dim)
    obj = PairObjective(enc, head, PairMiner())
    x = torch.randn(8, 1, 28, 28)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    loss, info = obj(x, y, torch.Generator().manual_seed(0))
    loss.backward()
    assert info["pairs"] == 8
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    assert enc.fc.weight.grad.abs().sum() > 0
