"""Training on several processes (`torchrun --nproc_per_node N -m train NAME`): gloo on CPU, nccl
on CUDA. Every process holds the whole model and a shard of each batch; after each backward pass
the gradients are averaged across processes (what DistributedDataParallel does, done explicitly
because the GAN trainers call their networks' parts, not one `forward`)."""
import os

import torch
import torch.distributed as dist


def world_size():
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank():
    return dist.get_rank() if dist.is_initialized() else 0


def is_main():
    return rank() == 0


def start(device):
    """Join the process group torchrun describes (no-op for one process); returns the device."""
    if world_size() == 1 or dist.is_initialized():
        return device
    cuda = str(device).startswith("cuda")
    dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return f"cuda:{local}"
    return device


def stop():
    if dist.is_initialized():
        dist.destroy_process_group()


def average_gradients(params):
    """Average the gradients of `params` over all processes (no-op for one process)."""
    if not dist.is_initialized():
        return
    n = dist.get_world_size()
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(n)


def broadcast_buffers(module):
    """Make every process hold rank 0's buffers (batch-norm statistics) before saving."""
    if not dist.is_initialized():
        return
    for b in module.buffers():
        dist.broadcast(b, 0)


def barrier():
    if dist.is_initialized():
        dist.barrier()
