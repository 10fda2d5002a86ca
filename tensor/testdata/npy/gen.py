# Regenerates the .npy files the tensor tests read (python3 with numpy).
import numpy as np
from numpy.lib import format as fmt

def save(name, arr, version=None):
    with open(name, "wb") as f:
        fmt.write_array(f, arr, version=version, allow_pickle=False)

save("f4_2x3.npy", np.array([[1.5, -2, 3], [4, 5, 6.25]], dtype="<f4"))
save("f8_be.npy", np.array([1, 2.5, -3], dtype=">f8"))
save("f2.npy", np.array([0.5, -1, 65504], dtype="<f2"))
save("i8_scalar.npy", np.array(-7, dtype="<i8"))
save("i1.npy", np.array([-128, 0, 127], dtype="i1"))
save("u2_be.npy", np.array([1, 258, 65535], dtype=">u2"))
save("b1.npy", np.array([True, False, True]))
save("c8.npy", np.array([1 + 2j, -3.5j], dtype="<c8"))
save("u_str.npy", np.array(["ab", "h\u00e9llo", ""]))
save("i4_fortran.npy", np.asfortranarray(np.arange(6, dtype="<i4").reshape(2, 3)))
save("f4_v2.npy", np.array([7, 8], dtype="<f4"), version=(2, 0))
save("u8_v3.npy", np.array([2**64 - 1], dtype="<u8"), version=(3, 0))
save("f4_empty.npy", np.zeros((0, 3), dtype="<f4"))
