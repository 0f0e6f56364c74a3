"""Where arrays come from: synthetic, tabular, FashionMNIST, and device-resident batching."""
