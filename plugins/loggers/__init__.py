"""Built-in loggers of training runs (TensorBoard, W&B, MLflow), each in its own optional extra."""
