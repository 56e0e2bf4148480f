"""Writers: each turns the image model into one kind of output."""
